// EventLoop: one poller, the timers, and the loop that waits on both.
//
// One iteration (run_once) has three phases, in this order:
//   1. poll:   the poller's wait, for at most as long as the earliest timer
//              allows;
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

#include <memory>
#include <vector>

#include "servers/event_loop/handler.hpp"
#include "servers/event_loop/poller.hpp"
#include "servers/event_loop/timer_heap.hpp"

namespace iomodels::loop {

class EventLoop {
 public:
  explicit EventLoop(std::unique_ptr<Poller> poller);

  // Interest in fd: kReadable and/or kWritable, or 0 to hear only that it
  // broke. watch() returns false (errno set) if the poller refuses.
  [[nodiscard]] bool watch(int fd, std::uint8_t interest, Handler& handler) {
    return poller_->add(fd, interest, handler);
  }
  void change(int fd, std::uint8_t interest, Handler& handler) {
    poller_->change(fd, interest, handler);
  }
  // Before closing a watched descriptor.
  void unwatch(int fd) { poller_->remove(fd); }
  const Poller& poller() const { return *poller_; }

  Clock::time_point now() const { return now_; }
  // After something that took long on this thread (a /cpu burn on the loop),
  // so that timers armed next count from the real time, not the stale one.
  void update_time() { now_ = Clock::now(); }

  void arm_timer(Handler& handler, Clock::duration delay) { timers_.arm(handler, now_ + delay); }
  void arm_timer_at(Handler& handler, Clock::time_point deadline) {
    timers_.arm(handler, deadline);
  }
  void cancel_timer(Handler& handler) { timers_.cancel(handler); }

  void run_once();
  void stop() { stopped_ = true; }
  bool stopped() const { return stopped_; }

 private:
  int poll_timeout_ms() const;

  std::unique_ptr<Poller> poller_;
  TimerHeap timers_;
  Clock::time_point now_ = Clock::now();
  bool stopped_ = false;
  std::vector<Ready> ready_;  // filled by each wait, kept for its capacity
};

}  // namespace iomodels::loop
