#include "servers/epoll/event_loop.hpp"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <system_error>

namespace iomodels::epoll {
namespace {

// epoll_ctl(MOD) and epoll_wait fail only if the program is wrong (a bad fd,
// a bad pointer): there is nothing sensible to continue with.
[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::abort();
}

}  // namespace

EventLoop::EventLoop() : epoll_(epoll_create1(EPOLL_CLOEXEC)) {
  if (!epoll_) throw std::system_error(errno, std::generic_category(), "epoll_create1");
}

bool EventLoop::watch(int fd, std::uint32_t events, Handler& handler) {
  epoll_event event{.events = events, .data = {.ptr = &handler}};
  return epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) == 0;
}

void EventLoop::change(int fd, std::uint32_t events, Handler& handler) {
  epoll_event event{.events = events, .data = {.ptr = &handler}};
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &event) != 0) die("epoll_ctl(MOD)");
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
  int count = epoll_wait(epoll_.get(), ready_.data(), kMaxEvents, poll_timeout_ms());
  if (count < 0) {
    if (errno != EINTR) die("epoll_wait");
    count = 0;  // a signal: the shutdown eventfd will say if it was ours
  }
  update_time();
  for (int i = 0; i < count; ++i) {
    static_cast<Handler*>(ready_[i].data.ptr)->on_ready(ready_[i].events);
  }
  while (Handler* expired = timers_.pop_expired(now_)) expired->on_timer();
}

}  // namespace iomodels::epoll
