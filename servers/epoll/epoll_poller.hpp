// EpollPoller: the loop's waits on epoll(7). The kernel keeps the interest
// list, so a wait costs in proportion to what is ready, not to what is
// watched: the reason a single thread can hold 60 000 idle connections.
#pragma once

#include <sys/epoll.h>

#include <array>

#include "net/fd.hpp"
#include "servers/event_loop/poller.hpp"

namespace iomodels::epoll {

class EpollPoller final : public loop::Poller {
 public:
  EpollPoller();  // throws std::system_error if the kernel refuses an epoll set

  const char* cannot_watch(int) const override { return nullptr; }
  bool add(int fd, std::uint8_t interest, loop::Handler& handler) override;
  void change(int fd, std::uint8_t interest, loop::Handler& handler) override;
  void remove(int fd) override;
  void wait(int timeout_ms, std::vector<loop::Ready>& ready) override;

 private:
  // Up to this many ready descriptors per epoll_wait: with more, the rest are
  // reported by the next call (level-triggered). 512 keeps the array at 6 KiB
  // and amortises epoll_wait over hundreds of requests at high load.
  static constexpr int kMaxEvents = 512;

  Fd epoll_;
  std::array<epoll_event, kMaxEvents> events_{};
};

}  // namespace iomodels::epoll
