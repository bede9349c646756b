// ConnectionLimit: the --max-connections bound, shared by the reactors of one
// process (they share its file descriptor table, and so its fd limit).
#pragma once

#include <atomic>
#include <cstdint>

namespace iomodels::loop {

class ConnectionLimit {
 public:
  explicit ConnectionLimit(std::uint64_t max) : max_(max) {}

  // One atomic add per accept and one per close: no lock, and uncontended
  // with a single reactor.
  bool try_take() {
    if (open_.fetch_add(1, std::memory_order_relaxed) < max_) return true;
    open_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  void give_back() { open_.fetch_sub(1, std::memory_order_relaxed); }

 private:
  const std::uint64_t max_;
  std::atomic<std::uint64_t> open_{0};
};

}  // namespace iomodels::loop
