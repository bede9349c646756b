// What a thread costs in memory: 1 000 threads blocked, as a thread per idle
// connection is, with the default stack and with a 64 KiB one. The "2 MB per
// thread" figure is a stack *reservation*: virtual address space. What RAM a
// blocked thread really takes is the pages of its stack that it touched,
// which this benchmark reads from VmRSS, its kernel stack (KernelStack in
// /proc/meminfo) and its kernel objects (task_struct & co., the Slab line).
#include <benchmark/benchmark.h>
#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "microbench/proc_memory.hpp"

namespace iomodels::microbench {
namespace {

constexpr int kThreads = 1000;

// task_struct and the other per-thread kernel objects live in slab caches.
// Objects in use (from /proc/slabinfo) rather than the Slab line of
// /proc/meminfo, which counts pages: the objects freed by the previous run's
// threads stay in their pages and would make the next run look free.
std::uint64_t kernel_objects_bytes() {
  if (const auto slabinfo = read_slabinfo()) return slab_bytes_in_use(*slabinfo);
  return meminfo_bytes("Slab");
}

// Threads that start, say so, and block until destroyed.
class BlockedThreads {
 public:
  // stack_bytes = 0: the default (RLIMIT_STACK, usually 8 MiB).
  BlockedThreads(int count, std::size_t stack_bytes) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (stack_bytes != 0) pthread_attr_setstacksize(&attr, stack_bytes);
    for (int i = 0; i < count; ++i) {
      pthread_t id;
      if (int error = pthread_create(&id, &attr, &BlockedThreads::block, this); error != 0) {
        pthread_attr_destroy(&attr);
        release();
        throw std::runtime_error(std::string("pthread_create: ") + std::strerror(error));
      }
      ids_.push_back(id);
    }
    pthread_attr_destroy(&attr);
    std::unique_lock lock(mutex_);
    all_started_.wait(lock, [&] { return started_ == count; });
  }
  ~BlockedThreads() { release(); }
  BlockedThreads(const BlockedThreads&) = delete;
  BlockedThreads& operator=(const BlockedThreads&) = delete;

  static std::size_t default_stack_bytes() {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    std::size_t bytes = 0;
    pthread_attr_getstacksize(&attr, &bytes);
    pthread_attr_destroy(&attr);
    return bytes;
  }

 private:
  static void* block(void* self_ptr) {
    auto* self = static_cast<BlockedThreads*>(self_ptr);
    std::unique_lock lock(self->mutex_);
    ++self->started_;
    self->all_started_.notify_one();
    self->gate_.wait(lock, [self] { return self->open_; });
    return nullptr;
  }

  void release() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    gate_.notify_all();
    for (pthread_t id : ids_) pthread_join(id, nullptr);
    ids_.clear();
  }

  std::mutex mutex_;
  std::condition_variable all_started_;
  std::condition_variable gate_;
  int started_ = 0;
  bool open_ = false;
  std::vector<pthread_t> ids_;
};

void BM_BlockedThreadsMemory(benchmark::State& state) {
  const auto stack_bytes = static_cast<std::size_t>(state.range(0));
  double rss = 0, virt = 0, kernel_stack = 0, slab = 0;
  for (auto _ : state) {
    const ProcessMemory before = process_memory();
    const std::uint64_t kernel_before = meminfo_bytes("KernelStack");
    const std::uint64_t slab_before = kernel_objects_bytes();
    try {
      BlockedThreads threads(kThreads, stack_bytes);
      const ProcessMemory after = process_memory();
      // KernelStack is machine-wide: other processes add noise, 1 000
      // threads' worth of signal keeps it small.
      kernel_stack =
          static_cast<double>(meminfo_bytes("KernelStack")) - static_cast<double>(kernel_before);
      slab = static_cast<double>(kernel_objects_bytes()) - static_cast<double>(slab_before);
      rss = static_cast<double>(after.rss_bytes) - static_cast<double>(before.rss_bytes);
      virt = static_cast<double>(after.virtual_bytes) - static_cast<double>(before.virtual_bytes);
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      return;
    }
  }
  state.counters["threads"] = kThreads;
  state.counters["stack_bytes"] =
      static_cast<double>(stack_bytes != 0 ? stack_bytes : BlockedThreads::default_stack_bytes());
  state.counters["rss_bytes_per_thread"] = rss / kThreads;
  state.counters["virtual_bytes_per_thread"] = virt / kThreads;
  state.counters["kernel_stack_bytes_per_thread"] = kernel_stack / kThreads;
  state.counters["kernel_slab_bytes_per_thread"] = slab / kThreads;
}
// One iteration: the figure is a memory delta, and the time (of starting
// 1 000 threads) is a side result.
BENCHMARK(BM_BlockedThreadsMemory)
    ->ArgName("stack")
    ->Arg(0)
    ->Arg(64 * 1024)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace iomodels::microbench
