// Acceptor: new connections off the listener, by one multishot accept that
// completes once per client until it fails. When the kernel is out of
// descriptors or memory the pending client stays in the backlog and the
// listener stays readable: re-arming at once would spin, so it waits 100 ms.
#pragma once

#include <linux/time_types.h>

#include <cstdint>
#include <functional>

#include "net/fd.hpp"
#include "servers/uring/ring.hpp"

namespace iomodels::uring {

class Acceptor {
 public:
  using OnConnection = std::function<void(Fd)>;

  Acceptor(Ring& ring, Fd listener, OnConnection on_connection);

  void start();
  void on_accept(int result, unsigned flags);
  void on_retry();  // the pause is over

  std::uint64_t errors() const { return errors_; }

 private:
  Ring& ring_;
  Fd listener_;
  OnConnection on_connection_;
  __kernel_timespec retry_time_{};  // read by the kernel while the pause runs
  std::uint64_t errors_ = 0;
};

}  // namespace iomodels::uring
