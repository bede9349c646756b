// Context switch cost: two threads pass a token back and forth, so that
// every hand-off puts one thread to sleep and wakes the other, through a
// pipe, an eventfd, a condition variable and a bare futex. Against them, the
// same hand-off inside one event loop: a callback that queues the next one,
// and a loop woken through the kernel (eventfd + epoll_wait) but never
// leaving its thread. One iteration is a round trip: two hand-offs.
// Run it pinned to one CPU (scripts/microbench.py does) to measure a switch
// rather than a cross-CPU wake-up. Iterations are chosen by wall time: the
// main thread's CPU time is only half the story of a hand-off, and on a busy
// machine CPU time accrues so slowly that the run would take minutes.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <system_error>
#include <thread>

#include "net/fd.hpp"

namespace iomodels::microbench {
namespace {

long context_switches() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_nvcsw + usage.ru_nivcsw;
}

// Reports per round trip: two hand-offs, and how many context switches the
// kernel counted for them (about 2 for threads, 0 for a loop).
class RoundTrips {
 public:
  explicit RoundTrips(benchmark::State& state) : state_(state), switches_(context_switches()) {}
  ~RoundTrips() {
    const auto trips = static_cast<double>(state_.iterations());
    if (trips == 0) return;
    state_.counters["handoffs_per_iter"] = 2;
    state_.counters["ctx_switches_per_iter"] =
        static_cast<double>(context_switches() - switches_) / trips;
  }

 private:
  benchmark::State& state_;
  long switches_;
};

Fd checked(int fd, const char* what) {
  if (fd < 0) throw std::system_error(errno, std::generic_category(), what);
  return Fd(fd);
}

// A one-way channel of 8-byte tokens over a pipe or an eventfd.
struct Channel {
  Fd read_end;
  Fd write_end;  // the same descriptor as read_end for an eventfd
  int writer() const { return write_end ? write_end.get() : read_end.get(); }
  void send() const {
    const std::uint64_t token = 1;
    while (::write(writer(), &token, sizeof token) < 0 && errno == EINTR) {
    }
  }
  void receive() const {
    std::uint64_t token;
    while (::read(read_end.get(), &token, sizeof token) < 0 && errno == EINTR) {
    }
  }
};

Channel pipe_channel() {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe");
  return {Fd(ends[0]), Fd(ends[1])};
}

Channel eventfd_channel() {
  return {checked(::eventfd(0, EFD_CLOEXEC), "eventfd"), Fd()};
}

template <Channel (*make)()>
void BM_PingPong(benchmark::State& state) {
  const Channel ping = make();
  const Channel pong = make();
  std::atomic<bool> stop{false};
  std::thread partner([&] {
    for (;;) {
      ping.receive();
      if (stop.load(std::memory_order_relaxed)) return;
      pong.send();
    }
  });
  {
    RoundTrips trips(state);
    for (auto _ : state) {
      ping.send();
      pong.receive();
    }
  }
  stop = true;
  ping.send();
  partner.join();
}
BENCHMARK_TEMPLATE(BM_PingPong, pipe_channel)->Name("BM_PingPong/pipe")->UseRealTime();
BENCHMARK_TEMPLATE(BM_PingPong, eventfd_channel)->Name("BM_PingPong/eventfd")->UseRealTime();

void BM_PingPongCondVar(benchmark::State& state) {
  std::mutex mutex;
  std::condition_variable changed;
  int turn = 0;  // 0: main thread's turn, 1: the partner's, -1: stop
  std::thread partner([&] {
    std::unique_lock lock(mutex);
    for (;;) {
      changed.wait(lock, [&] { return turn != 0; });
      if (turn < 0) return;
      turn = 0;
      changed.notify_one();
    }
  });
  {
    RoundTrips trips(state);
    std::unique_lock lock(mutex);
    for (auto _ : state) {
      turn = 1;
      changed.notify_one();
      changed.wait(lock, [&] { return turn == 0; });
    }
    turn = -1;
  }
  changed.notify_one();
  partner.join();
}
BENCHMARK(BM_PingPongCondVar)->Name("BM_PingPong/condvar")->UseRealTime();

// The primitive under the condition variable, without the mutex.
void futex_wait(std::atomic<int>& word, int while_equal) {
  ::syscall(SYS_futex, reinterpret_cast<int*>(&word), FUTEX_WAIT_PRIVATE, while_equal, nullptr,
            nullptr, 0);
}
void futex_wake(std::atomic<int>& word) {
  ::syscall(SYS_futex, reinterpret_cast<int*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

void BM_PingPongFutex(benchmark::State& state) {
  std::atomic<int> turn{0};  // as in BM_PingPongCondVar
  std::thread partner([&] {
    for (;;) {
      int now;
      while ((now = turn.load()) == 0) futex_wait(turn, 0);
      if (now < 0) return;
      turn = 0;
      futex_wake(turn);
    }
  });
  {
    RoundTrips trips(state);
    for (auto _ : state) {
      turn = 1;
      futex_wake(turn);
      while (turn.load() == 1) futex_wait(turn, 1);
    }
  }
  turn = -1;
  futex_wake(turn);
  partner.join();
}
BENCHMARK(BM_PingPongFutex)->Name("BM_PingPong/futex")->UseRealTime();

// The smallest event loop: a queue of callbacks run in order. Ping queues
// pong, pong queues ping: the same hand-off, with no thread to switch to.
class CallbackLoop {
 public:
  using Callback = void (*)(CallbackLoop&, void*);
  void post(Callback callback, void* context) {
    queue_[tail_++ % queue_.size()] = {callback, context};
  }
  // Runs callbacks until `count` of them ran or the queue is empty.
  void run(std::uint64_t count) {
    for (std::uint64_t i = 0; i < count && head_ != tail_; ++i) {
      const auto [callback, context] = queue_[head_++ % queue_.size()];
      callback(*this, context);
    }
  }

 private:
  struct Entry {
    Callback callback;
    void* context;
  };
  std::array<Entry, 16> queue_{};
  std::uint64_t head_ = 0;
  std::uint64_t tail_ = 0;
};

void pong(CallbackLoop& loop, void* count);
void ping(CallbackLoop& loop, void* count) {
  ++*static_cast<std::uint64_t*>(count);
  loop.post(&pong, count);
}
void pong(CallbackLoop& loop, void* count) {
  ++*static_cast<std::uint64_t*>(count);
  loop.post(&ping, count);
}

void BM_EventLoopCallback(benchmark::State& state) {
  CallbackLoop loop;
  std::uint64_t handoffs = 0;
  loop.post(&ping, &handoffs);
  RoundTrips trips(state);
  for (auto _ : state) loop.run(2);
  benchmark::DoNotOptimize(handoffs);
}
BENCHMARK(BM_EventLoopCallback)->Name("BM_PingPong/loop_callback")->UseRealTime();

// The hand-off as an epoll server sees it: an event on a descriptor the loop
// watches (write to an eventfd, epoll_wait, read it back), all in one thread:
// the system calls of a hand-off without the context switch.
void BM_EventLoopEventfd(benchmark::State& state) {
  const Fd epoll = checked(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1");
  const Channel channel = eventfd_channel();
  epoll_event interest{.events = EPOLLIN, .data = {.fd = channel.read_end.get()}};
  ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, channel.read_end.get(), &interest);
  RoundTrips trips(state);
  for (auto _ : state) {
    for (int handoff = 0; handoff < 2; ++handoff) {
      channel.send();
      epoll_event event;
      if (::epoll_wait(epoll.get(), &event, 1, -1) != 1) state.SkipWithError("epoll_wait");
      channel.receive();
    }
  }
}
BENCHMARK(BM_EventLoopEventfd)->Name("BM_PingPong/loop_eventfd_epoll")->UseRealTime();

}  // namespace
}  // namespace iomodels::microbench
