#include "servers/poll/poll_poller.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace iomodels::poll {
namespace {

short to_poll(std::uint8_t interest) {
  short events = 0;
  if (interest & loop::kReadable) events |= POLLIN;
  if (interest & loop::kWritable) events |= POLLOUT;
  return events;  // POLLERR, POLLHUP and POLLNVAL are always reported
}

std::uint8_t from_poll(short revents) {
  std::uint8_t ready = 0;
  if (revents & POLLIN) ready |= loop::kReadable;
  if (revents & POLLOUT) ready |= loop::kWritable;
  if (revents & (POLLERR | POLLHUP | POLLNVAL)) ready |= loop::kBroken;
  return ready;
}

}  // namespace

bool PollPoller::add(int fd, std::uint8_t interest, loop::Handler& handler) {
  if (static_cast<std::size_t>(fd) >= slot_.size()) slot_.resize(fd + 1, -1);
  slot_[fd] = static_cast<int>(watched_.size());
  watched_.push_back({.fd = fd, .events = to_poll(interest), .revents = 0});
  handlers_.push_back(&handler);
  return true;
}

void PollPoller::change(int fd, std::uint8_t interest, loop::Handler& handler) {
  const int slot = slot_[fd];
  watched_[slot].events = to_poll(interest);
  handlers_[slot] = &handler;
}

void PollPoller::remove(int fd) {
  const int slot = slot_[fd];
  const int last = static_cast<int>(watched_.size()) - 1;
  if (slot != last) {
    watched_[slot] = watched_[last];
    handlers_[slot] = handlers_[last];
    slot_[watched_[slot].fd] = slot;
  }
  watched_.pop_back();
  handlers_.pop_back();
  slot_[fd] = -1;
}

void PollPoller::wait(int timeout_ms, std::vector<loop::Ready>& ready) {
  int count = ::poll(watched_.data(), watched_.size(), timeout_ms);
  if (count < 0) {
    if (errno == EINTR) return;  // a signal: the shutdown eventfd will say if it was ours
    std::perror("poll");         // a bad pointer or too many fds: the program is wrong
    std::abort();
  }
  // The kernel says how many are ready, not which: find them by walking the
  // whole array, the other half of poll()'s cost per watched descriptor.
  for (std::size_t i = 0; count > 0 && i < watched_.size(); ++i) {
    if (watched_[i].revents == 0) continue;
    ready.push_back({handlers_[i], from_poll(watched_[i].revents)});
    --count;
  }
}

}  // namespace iomodels::poll
