// What a thread costs in time: starting one for a piece of work (thread per
// connection, --pool 0), handing the work to a thread that already waits
// (a pool, --pool N), and, for scale, doing the work with a function call.
#include <benchmark/benchmark.h>

#include <condition_variable>
#include <mutex>
#include <thread>

namespace iomodels::microbench {
namespace {

[[gnu::noinline]] int work(int x) {
  benchmark::DoNotOptimize(x);
  return x + 1;
}

void BM_FunctionCall(benchmark::State& state) {
  int x = 0;
  for (auto _ : state) {
    x = work(x);
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(BM_FunctionCall);

void BM_ThreadCreateJoin(benchmark::State& state) {
  int x = 0;
  for (auto _ : state) {
    std::thread worker([&x] { x = work(x); });
    worker.join();
  }
  benchmark::DoNotOptimize(x);
}
BENCHMARK(BM_ThreadCreateJoin)->UseRealTime();

// A pool of one worker, as small as a pool gets: a task slot and an answer
// slot under one mutex, each with its condition variable.
class OneThreadPool {
 public:
  OneThreadPool() : worker_([this] { serve(); }) {}
  ~OneThreadPool() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    task_ready_.notify_one();
    worker_.join();
  }
  OneThreadPool(const OneThreadPool&) = delete;
  OneThreadPool& operator=(const OneThreadPool&) = delete;

  // Hands x to the worker and waits for work(x).
  int run(int x) {
    std::unique_lock lock(mutex_);
    task_ = x;
    has_task_ = true;
    task_ready_.notify_one();
    answer_ready_.wait(lock, [this] { return has_answer_; });
    has_answer_ = false;
    return answer_;
  }

 private:
  void serve() {
    std::unique_lock lock(mutex_);
    for (;;) {
      task_ready_.wait(lock, [this] { return has_task_ || stop_; });
      if (stop_) return;
      has_task_ = false;
      answer_ = work(task_);
      has_answer_ = true;
      answer_ready_.notify_one();
    }
  }

  std::mutex mutex_;
  std::condition_variable task_ready_;
  std::condition_variable answer_ready_;
  int task_ = 0;
  int answer_ = 0;
  bool has_task_ = false;
  bool has_answer_ = false;
  bool stop_ = false;
  std::thread worker_;  // last: starts once the members above exist
};

void BM_PoolHandOff(benchmark::State& state) {
  OneThreadPool pool;
  int x = 0;
  for (auto _ : state) x = pool.run(x);
  benchmark::DoNotOptimize(x);
}
BENCHMARK(BM_PoolHandOff)->UseRealTime();

}  // namespace
}  // namespace iomodels::microbench
