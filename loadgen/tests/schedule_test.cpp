// The open-loop schedule: however the connections are split over threads
// and shards, the union of the parts' schedules is the one-thread schedule.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "loadgen/schedule.hpp"

using iomodels::loadgen::OpenLoopSchedule;

namespace {

// (time, connection) of every request due before `until`, from each part
// [first, first + count) of `connections`.
std::vector<std::pair<std::int64_t, std::uint64_t>> union_of(
    std::int64_t start, std::uint64_t rate_milli, std::uint64_t connections,
    const std::vector<std::uint64_t>& parts, std::int64_t until) {
  std::vector<std::pair<std::int64_t, std::uint64_t>> sends;
  std::uint64_t first = 0;
  for (std::uint64_t count : parts) {
    const OpenLoopSchedule s(start, rate_milli, connections, first, count);
    std::int64_t last = start;
    for (std::uint64_t k = 0; s.time(k) < until; ++k) {
      EXPECT_GE(s.time(k), last) << "a part's schedule goes back in time";
      last = s.time(k);
      sends.emplace_back(s.time(k), first + k % count);
    }
    first += count;
  }
  std::sort(sends.begin(), sends.end());
  return sends;
}

TEST(OpenLoopSchedule, PartsTogetherSendTheSingleSchedule) {
  const std::int64_t start = 1'000'000'000'000;
  const std::int64_t until = start + 2'000'000'000;  // 2 s
  for (std::uint64_t rate_milli : {1'000'000ull, 7'777'777ull, 33'000'000ull}) {
    const auto single = union_of(start, rate_milli, 10, {10}, until);
    ASSERT_FALSE(single.empty());
    // Request g at start + g / rate on connection g mod 10: no two at once.
    for (std::size_t g = 0; g < single.size(); ++g) {
      ASSERT_EQ(single[g].second, g % 10);
      if (g > 0) {
        ASSERT_LT(single[g - 1].first, single[g].first) << "two requests at one instant";
      }
    }
    // Threads of one process (4 + 3 + 3), or shards with threads of their own.
    EXPECT_EQ(union_of(start, rate_milli, 10, {4, 3, 3}, until), single);
    EXPECT_EQ(union_of(start, rate_milli, 10, {1, 2, 3, 4}, until), single);
    EXPECT_EQ(union_of(start, rate_milli, 10, {5, 5}, until), single);
  }
}

TEST(OpenLoopSchedule, FirstRequestsAtOrAfterAnInstant) {
  const OpenLoopSchedule whole(0, 3'000'000, 7, 0, 7);  // 3000/s over 7 connections
  for (std::int64_t t : {0ll, 1ll, 333'333ll, 333'334ll, 1'000'000'000ll}) {
    const std::uint64_t g = whole.first_global_at_or_after(t);
    EXPECT_GE(whole.time_of_global(g), t);
    if (g > 0) {
      EXPECT_LT(whole.time_of_global(g - 1), t);
    }
  }
  const OpenLoopSchedule part(0, 3'000'000, 7, 2, 3);  // connections 2, 3, 4
  for (std::uint64_t g = 0; g < 50; ++g) {
    const std::uint64_t k = part.first_local_at_or_after(g);
    EXPECT_GE(part.global_of(k), g);
    if (k > 0) {
      EXPECT_LT(part.global_of(k - 1), g);
    }
  }
}

}  // namespace
