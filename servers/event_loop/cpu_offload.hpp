// --offload N: the simulated business logic of /cpu/{us} runs on a pool of N
// worker threads instead of on the event loop, as libuv's thread pool runs
// Node.js's file system calls, DNS lookups and crypto.
//
// The loop hands a CpuJob to the pool and goes on serving other connections;
// a worker burns the CPU time and posts the job back to the inbox of the loop
// it came from. The inbox is an eventfd watched by that loop: the one
// thing a worker may touch of a loop, and the way it wakes the loop up.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "net/fd.hpp"
#include "servers/event_loop/event_loop.hpp"

namespace iomodels::loop {

class CompletionInbox;

struct CpuJob {
  CompletionInbox* inbox;  // where to post it when done
  int fd;                  // the connection that asked ...
  std::uint32_t serial;    // ... and which one: the fd may be reused by then
  std::uint32_t cpu_us;
};

// Finished jobs waiting for one loop. post() is called by workers; the rest
// runs on the loop's thread.
class CompletionInbox final : public Handler {
 public:
  using OnDone = std::function<void(const CpuJob&)>;
  CompletionInbox(EventLoop& loop, OnDone on_done);  // throws std::system_error

  void post(const CpuJob& job);

  void on_ready(std::uint8_t events) override;
  void on_timer() override {}

 private:
  Fd wakeup_;  // an eventfd
  OnDone on_done_;
  std::mutex mutex_;
  std::vector<CpuJob> done_;     // guarded by mutex_
  std::vector<CpuJob> handing_;  // the loop's copy, outside the lock
};

class CpuWorkerPool {
 public:
  explicit CpuWorkerPool(int threads);
  ~CpuWorkerPool() { stop(); }
  CpuWorkerPool(const CpuWorkerPool&) = delete;
  CpuWorkerPool& operator=(const CpuWorkerPool&) = delete;

  // Unbounded, but never long: a connection has at most one job in flight,
  // so the queue holds at most --max-connections jobs.
  void submit(const CpuJob& job);
  // Joins the workers. A burn in progress ends early once shutdown is
  // requested (SIGINT/SIGTERM), so this returns within moments then.
  void stop();

 private:
  void work(std::stop_token stop);

  std::mutex mutex_;
  std::condition_variable_any ready_;
  std::deque<CpuJob> queue_;  // guarded by mutex_
  std::vector<std::jthread> workers_;
};

}  // namespace iomodels::loop
