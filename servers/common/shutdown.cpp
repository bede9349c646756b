#include "servers/common/shutdown.hpp"

#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace iomodels::shutdown {
namespace {

std::atomic<bool> g_requested{false};
int g_event_fd = -1;
// watched[fd] is set while a thread may block on socket fd. Indexed by fd
// and sized to the fd limit, so the signal handler needs no lock to walk it.
std::unique_ptr<std::atomic<bool>[]> g_watched;
std::size_t g_watched_size = 0;

void wake_everyone() {
  g_requested.store(true);
  std::uint64_t one = 1;
  // A full eventfd counter is still readable: an error here changes nothing.
  [[maybe_unused]] ssize_t n = ::write(g_event_fd, &one, sizeof one);
  for (std::size_t fd = 0; fd < g_watched_size; ++fd) {
    // shutdown() wakes a thread blocked in accept(), read() or write() on
    // this socket. If the fd was closed and reused meanwhile, it is shut
    // down too, which is what stopping wants anyway.
    if (g_watched[fd].load(std::memory_order_relaxed)) ::shutdown(static_cast<int>(fd), SHUT_RDWR);
  }
}

void on_signal(int) {
  int saved = errno;
  wake_everyone();
  errno = saved;
}

}  // namespace

void install_handlers() {
  g_event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (g_event_fd < 0) {
    std::perror("eventfd");
    std::exit(1);
  }
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  g_watched_size =
      limit.rlim_cur == RLIM_INFINITY ? 1 << 20 : static_cast<std::size_t>(limit.rlim_cur);
  g_watched = std::make_unique<std::atomic<bool>[]>(g_watched_size);

  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  // No SA_RESTART: a blocked system call returns EINTR and its loop checks
  // the flag.
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool requested() {
  return g_requested.load(std::memory_order_relaxed);
}

const std::atomic<bool>& requested_flag() {
  return g_requested;
}

int event_fd() {
  return g_event_fd;
}

void watch(int fd) {
  if (fd >= 0 && static_cast<std::size_t>(fd) < g_watched_size) g_watched[fd].store(true);
}

void unwatch(int fd) {
  if (fd >= 0 && static_cast<std::size_t>(fd) < g_watched_size) g_watched[fd].store(false);
}

}  // namespace iomodels::shutdown
