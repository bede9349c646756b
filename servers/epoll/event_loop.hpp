// EventLoop: one epoll set, the timers, and the loop that waits on both.
//
// One iteration (run_once) has three phases, in this order:
//   1. poll:   epoll_wait, for at most as long as the earliest timer allows;
//   2. I/O:    each ready handler's on_ready();
//   3. timers: each expired handler's on_timer().
// The clock is read once per iteration, right after the poll (libuv's
// uv_now does the same): a request handled in phase 2 sees the time the
// loop woke up, which is microseconds old, at no cost.
//
// Level-triggered, as redis and libuv are by default: a descriptor is
// reported on every poll for as long as it stays ready. A handler may read
// one buffer and leave the rest for the next iteration, and nothing is lost
// if it does not drain the socket; edge-triggered would make every handler
// read until EAGAIN, one extra system call per request.
#pragma once

#include <sys/epoll.h>

#include <array>
#include <cstdint>

#include "net/fd.hpp"
#include "servers/epoll/handler.hpp"
#include "servers/epoll/timer_heap.hpp"

namespace iomodels::epoll {

class EventLoop {
 public:
  EventLoop();  // throws std::system_error if the kernel refuses an epoll set

  // Interest in fd: events is EPOLLIN and/or EPOLLOUT, or 0 to hear only of
  // errors and hang-ups (which epoll always reports). watch() returns false
  // (errno set) if the kernel refuses, e.g. at fs.epoll.max_user_watches.
  // There is no unwatch(): closing a descriptor removes it from the set, as
  // long as no copy of it (dup, fork) is open: this server makes none
  // (--processes forks before any epoll set exists).
  [[nodiscard]] bool watch(int fd, std::uint32_t events, Handler& handler);
  void change(int fd, std::uint32_t events, Handler& handler);

  Clock::time_point now() const { return now_; }
  // After something that took long on this thread (a /cpu burn on the loop),
  // so that timers armed next count from the real time, not the stale one.
  void update_time() { now_ = Clock::now(); }

  void arm_timer(Handler& handler, Clock::duration delay) { timers_.arm(handler, now_ + delay); }
  void arm_timer_at(Handler& handler, Clock::time_point deadline) { timers_.arm(handler, deadline); }
  void cancel_timer(Handler& handler) { timers_.cancel(handler); }

  void run_once();
  void stop() { stopped_ = true; }
  bool stopped() const { return stopped_; }

 private:
  int poll_timeout_ms() const;

  // Up to this many ready descriptors per epoll_wait: with more, the rest are
  // reported by the next call (level-triggered). 512 keeps the array at 6 KiB
  // and amortises epoll_wait over hundreds of requests at high load.
  static constexpr int kMaxEvents = 512;

  Fd epoll_;
  TimerHeap timers_;
  Clock::time_point now_ = Clock::now();
  bool stopped_ = false;
  std::array<epoll_event, kMaxEvents> ready_{};
};

}  // namespace iomodels::epoll
