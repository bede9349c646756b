// PollPoller: the loop's waits on poll(2). The interest list lives here, in
// an array handed to the kernel whole on every wait, and the kernel walks all
// of it to find what is ready: a wait costs in proportion to what is
// watched, however little is ready. No descriptor ceiling, unlike select.
#pragma once

#include <poll.h>

#include <vector>

#include "servers/event_loop/poller.hpp"

namespace iomodels::poll {

class PollPoller final : public loop::Poller {
 public:
  const char* cannot_watch(int) const override { return nullptr; }
  bool add(int fd, std::uint8_t interest, loop::Handler& handler) override;
  void change(int fd, std::uint8_t interest, loop::Handler& handler) override;
  void remove(int fd) override;
  void wait(int timeout_ms, std::vector<loop::Ready>& ready) override;

 private:
  // Dense, so that poll() gets only watched descriptors: a removal moves the
  // last entry into the hole. slot_[fd] says where fd sits, or -1.
  std::vector<pollfd> watched_;
  std::vector<loop::Handler*> handlers_;  // parallel to watched_
  std::vector<int> slot_;
};

}  // namespace iomodels::poll
