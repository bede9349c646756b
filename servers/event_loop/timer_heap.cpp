#include "servers/event_loop/timer_heap.hpp"

namespace iomodels::loop {

void TimerHeap::arm(Handler& handler, Clock::time_point deadline) {
  handler.deadline_ = deadline;
  if (handler.timer_armed()) {
    // Only one of the two moves the entry: an earlier deadline rises, a
    // later one sinks.
    sift_up(handler.heap_index_);
    sift_down(handler.heap_index_);
    return;
  }
  heap_.push_back(&handler);
  place(&handler, static_cast<std::uint32_t>(heap_.size() - 1));
  sift_up(handler.heap_index_);
}

void TimerHeap::cancel(Handler& handler) {
  if (handler.timer_armed()) remove_at(handler.heap_index_);
}

Handler* TimerHeap::pop_expired(Clock::time_point now) {
  if (heap_.empty() || heap_.front()->deadline_ > now) return nullptr;
  Handler* expired = heap_.front();
  remove_at(0);
  return expired;
}

void TimerHeap::remove_at(std::uint32_t index) {
  Handler* removed = heap_[index];
  Handler* last = heap_.back();
  heap_.pop_back();
  removed->heap_index_ = Handler::kNotArmed;
  if (last == removed) return;
  // The last entry fills the hole; it may belong above or below it.
  place(last, index);
  sift_up(index);
  sift_down(last->heap_index_);
}

void TimerHeap::place(Handler* handler, std::uint32_t index) {
  heap_[index] = handler;
  handler->heap_index_ = index;
}

void TimerHeap::sift_up(std::uint32_t index) {
  Handler* moving = heap_[index];
  while (index > 0) {
    std::uint32_t parent = (index - 1) / 2;
    if (heap_[parent]->deadline_ <= moving->deadline_) break;
    place(heap_[parent], index);
    index = parent;
  }
  place(moving, index);
}

void TimerHeap::sift_down(std::uint32_t index) {
  Handler* moving = heap_[index];
  const auto size = static_cast<std::uint32_t>(heap_.size());
  for (;;) {
    std::uint32_t child = 2 * index + 1;
    if (child >= size) break;
    if (child + 1 < size && heap_[child + 1]->deadline_ < heap_[child]->deadline_) ++child;
    if (moving->deadline_ <= heap_[child]->deadline_) break;
    place(heap_[child], index);
    index = child;
  }
  place(moving, index);
}

}  // namespace iomodels::loop
