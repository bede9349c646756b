// The open-loop schedule, one for the whole run: global request g is due at
// start + g / rate on connection g mod connections, whatever thread, process
// or host (--shard) owns that connection. A worker owns the connections
// [first, first + count) and sends their requests in order; so the union of
// all the workers' schedules is exactly the one-thread schedule, and T
// threads (or N shards) never send T requests at the same instant. The times
// are integer arithmetic, so every process computes the same instants.
#pragma once

#include <cstdint>

namespace iomodels::loadgen {

// 128 bits: g * 10^12 passes 64 bits after 18 million requests.
__extension__ using Wide = unsigned __int128;

class OpenLoopSchedule {
 public:
  // rate_milli: requests per 1000 s over all connections (rate * 1000).
  OpenLoopSchedule(std::int64_t start_ns, std::uint64_t rate_milli, std::uint64_t connections,
                   std::uint64_t first, std::uint64_t count)
      : start_ns_(start_ns),
        rate_milli_(rate_milli),
        connections_(connections),
        first_(first),
        count_(count) {}

  std::int64_t time_of_global(std::uint64_t g) const {
    const Wide ns = static_cast<Wide>(g) * 1'000'000'000'000u;
    return start_ns_ + static_cast<std::int64_t>(ns / rate_milli_);
  }
  // This worker's k-th request is request j = k / count of its connection
  // first + k % count: global j * connections + first + k % count.
  std::uint64_t global_of(std::uint64_t k) const {
    return (k / count_) * connections_ + first_ + k % count_;
  }
  std::int64_t time(std::uint64_t k) const { return time_of_global(global_of(k)); }
  // Of request j of local connection i.
  std::int64_t time_of(std::uint64_t i, std::uint64_t j) const { return time(j * count_ + i); }

  // The smallest global g due at or after t.
  std::uint64_t first_global_at_or_after(std::int64_t t) const {
    if (t <= start_ns_) return 0;
    const Wide scaled = static_cast<Wide>(t - start_ns_) * rate_milli_;
    auto g = static_cast<std::uint64_t>(scaled / 1'000'000'000'000u);
    while (g > 0 && time_of_global(g - 1) >= t) --g;
    while (time_of_global(g) < t) ++g;
    return g;
  }
  // The smallest local k whose global index is >= g.
  std::uint64_t first_local_at_or_after(std::uint64_t g) const {
    const std::uint64_t round = g / connections_, slot = g % connections_;
    if (slot < first_) return round * count_;
    if (slot < first_ + count_) return round * count_ + (slot - first_);
    return (round + 1) * count_;
  }

 private:
  std::int64_t start_ns_;
  std::uint64_t rate_milli_;
  std::uint64_t connections_;  // over all workers, processes and shards
  std::uint64_t first_, count_;
};

}  // namespace iomodels::loadgen
