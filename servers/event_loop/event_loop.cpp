#include "servers/event_loop/event_loop.hpp"

#include <climits>

namespace iomodels::loop {

EventLoop::EventLoop(std::unique_ptr<Poller> poller) : poller_(std::move(poller)) {
  // A busy loop hears of hundreds of descriptors per wait: no growing then.
  ready_.reserve(512);
}

int EventLoop::poll_timeout_ms() const {
  if (timers_.empty()) return -1;
  // Rounded up: waking a little early would find nothing expired and cost
  // an extra turn of the loop; a timer may fire late, never early.
  auto left = std::chrono::ceil<std::chrono::milliseconds>(timers_.earliest_deadline() - now_);
  if (left.count() <= 0) return 0;
  return left.count() > INT_MAX ? INT_MAX : static_cast<int>(left.count());
}

void EventLoop::run_once() {
  ready_.clear();
  poller_->wait(poll_timeout_ms(), ready_);
  update_time();
  for (const Ready& ready : ready_) ready.handler->on_ready(ready.events);
  while (Handler* expired = timers_.pop_expired(now_)) expired->on_timer();
}

}  // namespace iomodels::loop
