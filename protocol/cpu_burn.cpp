#include "protocol/cpu_burn.hpp"

#include <ctime>

namespace iomodels {
namespace {

std::int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

bool burn_cpu_us(std::uint32_t us, const std::atomic<bool>* stop) {
  const std::int64_t until = thread_cpu_ns() + std::int64_t{us} * 1000;
  // Some arithmetic between clock reads, so the work is mostly user time (as
  // business logic would be) rather than clock_gettime system calls: the
  // thread CPU clock is not served by the vDSO.
  volatile std::uint64_t sink = 0;
  while (thread_cpu_ns() < until) {
    for (int i = 0; i < 2000; ++i) sink = sink * 6364136223846793005ULL + 1442695040888963407ULL;
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) return false;
  }
  return true;
}

}  // namespace iomodels
