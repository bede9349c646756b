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

// The kernel objects of a thread live in slab caches. The objects in use of
// all caches (from /proc/slabinfo) say what the kernel allocated, but other
// processes allocate and free at the same time: on a busy machine the total
// can even shrink. task_struct (about 6 KiB on Linux 6.x, most of a thread's
// kernel objects besides its stack) has a cache of its own that only thread
// and process creation touches, so its growth is the robust figure.
struct KernelObjects {
  double all_bytes = 0;
  double task_struct_bytes = 0;
};

KernelObjects kernel_objects() {
  const auto slabinfo = read_slabinfo();
  if (!slabinfo) return {static_cast<double>(meminfo_bytes("Slab")), 0};
  KernelObjects objects{static_cast<double>(slab_bytes_in_use(*slabinfo)), 0};
  if (const auto it = slabinfo->find("task_struct"); it != slabinfo->end()) {
    objects.task_struct_bytes =
        static_cast<double>(it->second.active_objects * it->second.object_size);
  }
  return objects;
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
  double rss = 0, virt = 0, kernel_stack = 0, slab = 0, task_struct = 0;
  for (auto _ : state) {
    const ProcessMemory before = process_memory();
    const std::uint64_t kernel_before = meminfo_bytes("KernelStack");
    const KernelObjects objects_before = kernel_objects();
    try {
      BlockedThreads threads(kThreads, stack_bytes);
      const ProcessMemory after = process_memory();
      // KernelStack is machine-wide: other processes add noise, 1 000
      // threads' worth of signal keeps it small.
      kernel_stack =
          static_cast<double>(meminfo_bytes("KernelStack")) - static_cast<double>(kernel_before);
      const KernelObjects objects_after = kernel_objects();
      slab = objects_after.all_bytes - objects_before.all_bytes;
      task_struct = objects_after.task_struct_bytes - objects_before.task_struct_bytes;
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
  state.counters["task_struct_bytes_per_thread"] = task_struct / kThreads;
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
