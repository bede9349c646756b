// Handler: anything the event loop drives. The loop tells it when its file
// descriptor is ready and when its timer expires.
//
// Each handler has at most one timer. That is all a connection ever needs (at
// any moment it waits for one thing: the rest of a request header, the end of
// a /sleep, or the end of a lingering close) and all the acceptor needs (the
// end of a pause), and it lets the timer live inside the handler: arming one
// allocates nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>

namespace iomodels::loop {

// CLOCK_MONOTONIC, read through the vDSO: no system call.
using Clock = std::chrono::steady_clock;

class Handler {
 public:
  // events: the Readiness bits the poller reported (poller.hpp).
  virtual void on_ready(std::uint8_t events) = 0;
  virtual void on_timer() = 0;

  bool timer_armed() const { return heap_index_ != kNotArmed; }
  Clock::time_point timer_deadline() const { return deadline_; }

 protected:
  Handler() = default;
  ~Handler() = default;  // never deleted through a Handler*
  Handler(const Handler&) = delete;
  Handler& operator=(const Handler&) = delete;

 private:
  friend class TimerHeap;
  static constexpr std::uint32_t kNotArmed = std::numeric_limits<std::uint32_t>::max();
  Clock::time_point deadline_{};
  std::uint32_t heap_index_ = kNotArmed;  // where this handler sits in the TimerHeap
};

}  // namespace iomodels::loop
