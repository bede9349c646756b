#include "servers/select/select_poller.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace iomodels::select {

const char* SelectPoller::cannot_watch(int fd) const {
  return fd < FD_SETSIZE ? nullptr
                         : "the connection's descriptor is at or above FD_SETSIZE (1024), "
                           "the most select() can watch";
}

bool SelectPoller::add(int fd, std::uint8_t interest, loop::Handler& handler) {
  if (cannot_watch(fd) != nullptr) {
    errno = EINVAL;
    return false;
  }
  handlers_[fd] = &handler;
  if (fd > highest_) highest_ = fd;
  change(fd, interest, handler);
  return true;
}

void SelectPoller::change(int fd, std::uint8_t interest, loop::Handler& handler) {
  handlers_[fd] = &handler;
  if (interest & loop::kReadable) {
    FD_SET(fd, &readable_);
  } else {
    FD_CLR(fd, &readable_);
  }
  if (interest & loop::kWritable) {
    FD_SET(fd, &writable_);
  } else {
    FD_CLR(fd, &writable_);
  }
}

void SelectPoller::remove(int fd) {
  FD_CLR(fd, &readable_);
  FD_CLR(fd, &writable_);
  handlers_[fd] = nullptr;
  while (highest_ >= 0 && handlers_[highest_] == nullptr) --highest_;
}

// ThreadSanitizer holds a signal back until the thread enters a blocking
// call it intercepts, and select() is not one (google/sanitizers#838): a
// SIGTERM that comes while the loop sleeps in select() would wait for the
// next socket event, for ever on an idle server. Under TSan the wait is cut
// into slices so the handler runs within one.
#if defined(__SANITIZE_THREAD__)
constexpr int kLongestWaitMs = 100;
#elif defined(__has_feature)
constexpr int kLongestWaitMs = __has_feature(thread_sanitizer) ? 100 : -1;
#else
constexpr int kLongestWaitMs = -1;
#endif

void SelectPoller::wait(int timeout_ms, std::vector<loop::Ready>& ready) {
  if (kLongestWaitMs >= 0 && (timeout_ms < 0 || timeout_ms > kLongestWaitMs)) {
    timeout_ms = kLongestWaitMs;
  }
  fd_set readable = readable_;
  fd_set writable = writable_;
  timeval timeout{.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
  int count =
      ::select(highest_ + 1, &readable, &writable, nullptr, timeout_ms < 0 ? nullptr : &timeout);
  if (count < 0) {
    if (errno == EINTR) return;  // a signal: the shutdown eventfd will say if it was ours
    std::perror("select");       // a closed fd still watched: the program is wrong
    std::abort();
  }
  // There is no error set for sockets: a reset or a hang-up shows as
  // readable (the read then fails), so kBroken never comes from here.
  for (int fd = 0; count > 0 && fd <= highest_; ++fd) {
    std::uint8_t events = 0;
    if (FD_ISSET(fd, &readable)) events |= loop::kReadable;
    if (FD_ISSET(fd, &writable)) events |= loop::kWritable;
    if (events == 0) continue;
    ready.push_back({handlers_[fd], events});
    count -= (events & loop::kReadable ? 1 : 0) + (events & loop::kWritable ? 1 : 0);
  }
}

}  // namespace iomodels::select
