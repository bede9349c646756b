// TimerHeap: the armed timers of one event loop, a binary min-heap ordered
// by deadline. The earliest deadline becomes the poller's timeout, so timers
// cost no system call and no file descriptor (timerfd would cost both).
//
// Intrusive, as libuv's is: each handler remembers its own position in the
// heap, so cancelling is O(log n) and leaves nothing behind. A heap that
// cancels lazily (leaving stale entries to be skipped when they come up)
// would be shorter, but a client whose requests arrive in two pieces arms and
// cancels a header timer per request, and the stale entries would pile up.
#pragma once

#include <cstdint>
#include <vector>

#include "servers/event_loop/handler.hpp"

namespace iomodels::loop {

class TimerHeap {
 public:
  // Arms the handler's timer, or moves it if it is armed already.
  void arm(Handler& handler, Clock::time_point deadline);
  // Does nothing if the timer is not armed.
  void cancel(Handler& handler);

  bool empty() const { return heap_.empty(); }
  Clock::time_point earliest_deadline() const { return heap_.front()->deadline_; }

  // Removes and returns a handler whose deadline is at or before now, or
  // returns nullptr if there is none.
  Handler* pop_expired(Clock::time_point now);

 private:
  void remove_at(std::uint32_t index);
  void place(Handler* handler, std::uint32_t index);
  void sift_up(std::uint32_t index);
  void sift_down(std::uint32_t index);

  std::vector<Handler*> heap_;
};

}  // namespace iomodels::loop
