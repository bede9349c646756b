// Readiness cost: how long select(), poll() and epoll_wait() take to find the
// one ready socket among N idle ones. select() and poll() hand the kernel the
// whole set on every call and the kernel asks every socket in it, so their
// cost grows with N; epoll keeps the set in the kernel between calls and
// returns the ready list, so its cost follows the number of ready sockets.
#include <benchmark/benchmark.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "microbench/loopback_connections.hpp"
#include "net/socket.hpp"

namespace iomodels::microbench {
namespace {

// N = watched sockets, ready one included: 1 ... 10 000 on a log scale.
const std::vector<std::int64_t> kWatched = {1, 10, 100, 300, 1000, 3000, 10000};

// One connection whose server end holds an unread byte: with level-triggered
// readiness it stays readable for the whole benchmark.
int ready_socket() {
  static LoopbackConnections pair = [] {
    LoopbackConnections c(1);
    const char byte = 'x';
    if (::write(c.ends()[0].get(), &byte, 1) != 1) throw std::runtime_error("write to loopback");
    return c;
  }();
  return pair.ends()[1].get();
}

// The ready socket plus n - 1 idle ones (both ends of idle connections: an
// idle end is neither readable nor, watched for input only, reported).
std::vector<int> watched_sockets(std::size_t n) {
  std::vector<int> fds{ready_socket()};
  raise_fd_limit();
  LoopbackConnections& idle = shared_idle_connections();
  idle.grow(n / 2);
  for (std::size_t i = 0; fds.size() < n; ++i) fds.push_back(idle.ends()[i].get());
  return fds;
}

// Turns a setup failure (EMFILE at N = 10 000 with a low ulimit) into an
// error line in the output instead of an abort.
template <typename Body>
void run_or_skip(benchmark::State& state, Body body) {
  try {
    body();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

void BM_Select(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  run_or_skip(state, [&] {
    const std::vector<int> fds = watched_sockets(n);
    const int max_fd = *std::max_element(fds.begin(), fds.end());
    // fd_set is a bitmap of FD_SETSIZE bits: a descriptor numbered 1024 or
    // more cannot be watched at all, whatever the number of descriptors.
    if (max_fd >= FD_SETSIZE) {
      state.SkipWithError(("select() stops at FD_SETSIZE=" + std::to_string(FD_SETSIZE) + ": N=" +
                           std::to_string(n) + " needs descriptor " + std::to_string(max_fd))
                              .c_str());
      return;
    }
    fd_set watched;
    FD_ZERO(&watched);
    for (int fd : fds) FD_SET(fd, &watched);
    for (auto _ : state) {
      // select() overwrites its set, so every call starts from a copy, as
      // every select() loop must.
      fd_set readable = watched;
      timeval no_wait{};
      const int ready = ::select(max_fd + 1, &readable, nullptr, nullptr, &no_wait);
      if (ready != 1) state.SkipWithError("select() did not find exactly one ready socket");
      benchmark::DoNotOptimize(readable);
    }
    state.counters["fds"] = static_cast<double>(n);
  });
}

void BM_Poll(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  run_or_skip(state, [&] {
    std::vector<pollfd> watched;
    for (int fd : watched_sockets(n)) watched.push_back({.fd = fd, .events = POLLIN, .revents = 0});
    for (auto _ : state) {
      const int ready = ::poll(watched.data(), watched.size(), 0);
      if (ready != 1) state.SkipWithError("poll() did not find exactly one ready socket");
    }
    state.counters["fds"] = static_cast<double>(n);
  });
}

void BM_EpollWait(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  run_or_skip(state, [&] {
    Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
    for (int fd : watched_sockets(n)) {
      epoll_event interest{.events = EPOLLIN, .data = {.fd = fd}};
      if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &interest) != 0) {
        throw std::system_error(errno, std::generic_category(), "epoll_ctl");
      }
    }
    epoll_event events[64];
    for (auto _ : state) {
      const int ready = ::epoll_wait(epoll.get(), events, 64, 0);
      if (ready != 1) state.SkipWithError("epoll_wait() did not find exactly one ready socket");
    }
    state.counters["fds"] = static_cast<double>(n);
  });
}

// Iterations are chosen by wall time so that a busy machine does not stretch
// the run; the figure to read is the CPU time, which the other processes on
// the CPU do not inflate.
// The other half of "O(ready)": N fixed at 10 000, R of them ready. The cost
// follows R: the kernel walks its ready list and copies R events out.
void BM_EpollWaitReady(benchmark::State& state) {
  const auto ready = static_cast<std::size_t>(state.range(0));
  constexpr std::size_t kTotal = 10000;
  run_or_skip(state, [&] {
    raise_fd_limit();
    // Connections of their own: a byte written into the shared idle pool
    // would make those sockets ready for the other benchmarks too.
    LoopbackConnections readable(ready);
    const char byte = 'x';
    std::vector<int> fds;
    for (std::size_t i = 0; i < ready; ++i) {
      if (::write(readable.ends()[2 * i].get(), &byte, 1) != 1) {
        throw std::system_error(errno, std::generic_category(), "write to loopback");
      }
      fds.push_back(readable.ends()[2 * i + 1].get());
    }
    LoopbackConnections& idle = shared_idle_connections();
    idle.grow(kTotal / 2);
    for (std::size_t i = 0; fds.size() < kTotal; ++i) fds.push_back(idle.ends()[i].get());

    Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
    for (int fd : fds) {
      epoll_event interest{.events = EPOLLIN, .data = {.fd = fd}};
      if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &interest) != 0) {
        throw std::system_error(errno, std::generic_category(), "epoll_ctl");
      }
    }
    std::vector<epoll_event> events(ready);
    for (auto _ : state) {
      const int got = ::epoll_wait(epoll.get(), events.data(), static_cast<int>(ready), 0);
      if (got != static_cast<int>(ready)) state.SkipWithError("epoll_wait() missed ready sockets");
    }
    state.counters["fds"] = static_cast<double>(kTotal);
    state.counters["ready"] = static_cast<double>(ready);
  });
}

void watched_counts(benchmark::internal::Benchmark* b) {
  for (auto n : kWatched) b->Arg(n);
  b->ArgName("fds");
}

BENCHMARK(BM_Select)->Apply(watched_counts)->UseRealTime();
BENCHMARK(BM_Poll)->Apply(watched_counts)->UseRealTime();
BENCHMARK(BM_EpollWait)->Apply(watched_counts)->UseRealTime();
BENCHMARK(BM_EpollWaitReady)->ArgName("ready")->Arg(1)->Arg(10)->Arg(100)->Arg(1000)->UseRealTime();

}  // namespace
}  // namespace iomodels::microbench
