// SelectPoller: the loop's waits on select(2), the oldest of them. The
// interest is two bitmaps of FD_SETSIZE bits (1024 on Linux), copied to the
// kernel on every wait and scanned back up to the highest descriptor: a
// wait costs in proportion to the highest fd number, and no descriptor at or
// above FD_SETSIZE can be watched at all. Setting such a bit is undefined
// behaviour (glibc's fortified build aborts), so cannot_watch() says so and
// the reactor refuses that connection with a 503 instead.
#pragma once

#include <sys/select.h>

#include <vector>

#include "servers/event_loop/poller.hpp"

namespace iomodels::select {

class SelectPoller final : public loop::Poller {
 public:
  const char* cannot_watch(int fd) const override;
  bool add(int fd, std::uint8_t interest, loop::Handler& handler) override;
  void change(int fd, std::uint8_t interest, loop::Handler& handler) override;
  void remove(int fd) override;
  void wait(int timeout_ms, std::vector<loop::Ready>& ready) override;

 private:
  // select() overwrites the sets it is given: these keep the interest, and
  // each wait hands the kernel copies.
  fd_set readable_{};
  fd_set writable_{};
  std::vector<loop::Handler*> handlers_ = std::vector<loop::Handler*>(FD_SETSIZE);  // by fd
  int highest_ = -1;  // the highest watched fd: select() looks at 0..highest_
};

}  // namespace iomodels::select
