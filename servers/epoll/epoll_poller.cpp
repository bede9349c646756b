#include "servers/epoll/epoll_poller.hpp"

#include <cerrno>
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

std::uint32_t to_epoll(std::uint8_t interest) {
  std::uint32_t events = 0;
  if (interest & loop::kReadable) events |= EPOLLIN;
  if (interest & loop::kWritable) events |= EPOLLOUT;
  return events;  // EPOLLERR and EPOLLHUP are always reported
}

std::uint8_t from_epoll(std::uint32_t events) {
  std::uint8_t ready = 0;
  if (events & EPOLLIN) ready |= loop::kReadable;
  if (events & EPOLLOUT) ready |= loop::kWritable;
  if (events & (EPOLLERR | EPOLLHUP)) ready |= loop::kBroken;
  return ready;
}

}  // namespace

EpollPoller::EpollPoller() : epoll_(epoll_create1(EPOLL_CLOEXEC)) {
  if (!epoll_) throw std::system_error(errno, std::generic_category(), "epoll_create1");
}

bool EpollPoller::add(int fd, std::uint8_t interest, loop::Handler& handler) {
  // The handler itself rides in the event: no table from fd to handler.
  epoll_event event{.events = to_epoll(interest), .data = {.ptr = &handler}};
  return epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) == 0;
}

void EpollPoller::change(int fd, std::uint8_t interest, loop::Handler& handler) {
  epoll_event event{.events = to_epoll(interest), .data = {.ptr = &handler}};
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &event) != 0) die("epoll_ctl(MOD)");
}

void EpollPoller::remove(int) {
  // Nothing to do, and no system call: closing a descriptor removes it from
  // the set, as long as no copy of it (dup, fork) is open, and these servers
  // make none (--processes forks before any epoll set exists).
}

void EpollPoller::wait(int timeout_ms, std::vector<loop::Ready>& ready) {
  const int count = epoll_wait(epoll_.get(), events_.data(), kMaxEvents, timeout_ms);
  if (count < 0) {
    if (errno != EINTR) die("epoll_wait");
    return;  // a signal: the shutdown eventfd will say if it was ours
  }
  for (int i = 0; i < count; ++i) {
    ready.push_back(
        {static_cast<loop::Handler*>(events_[i].data.ptr), from_epoll(events_[i].events)});
  }
}

}  // namespace iomodels::epoll
