// Lower bounds among the latencies: when a percentile is only a lower bound.
#include <gtest/gtest.h>

#include "loadgen/censored_histogram.hpp"

using iomodels::loadgen::censored_latency_summary_us;
using iomodels::loadgen::CensoredHistogram;

namespace {

TEST(CensoredHistogram, NoLowerBoundsNoFlags) {
  CensoredHistogram h;
  for (int i = 1; i <= 1000; ++i) h.record_exact(i * 1000);
  for (double p : {50.0, 99.0, 99.9, 100.0}) EXPECT_FALSE(h.percentile_is_lower_bound(p)) << p;
  EXPECT_FALSE(h.mean_is_lower_bound());
  const auto j = censored_latency_summary_us(h);
  for (const auto& [k, v] : j["lower_bound"].items()) EXPECT_FALSE(v.get<bool>()) << k;
}

// A blocked server: one connection served fast, the others waited the whole
// window. The median is fixed by the answers; the tail is not.
TEST(CensoredHistogram, WaitersAboveTheAnswersMarkOnlyTheTail) {
  CensoredHistogram h;
  for (int i = 0; i < 9900; ++i) h.record_exact(50'000);              // 50 us
  for (int i = 0; i < 100; ++i) h.record_lower_bound(1'000'000'000);  // waited 1 s, still waiting
  EXPECT_FALSE(h.percentile_is_lower_bound(50));
  EXPECT_FALSE(h.percentile_is_lower_bound(99));  // rank 9900: the last answer
  EXPECT_TRUE(h.percentile_is_lower_bound(99.9));
  EXPECT_TRUE(h.percentile_is_lower_bound(100));
  EXPECT_TRUE(h.mean_is_lower_bound());
  EXPECT_NEAR(h.all.percentile(99.9), 1e9, 1e7);
}

// Requests still open with small ages at the close of a healthy run: had
// they been answered at any time, the median could not have moved beyond
// the histogram's resolution, so it is not marked.
TEST(CensoredHistogram, YoungOpenRequestsDoNotMarkADenseMedian) {
  CensoredHistogram h;
  for (int i = 0; i < 10'000; ++i) h.record_exact(100'000 + (i % 100) * 10);  // 100..101 us
  for (int i = 0; i < 10; ++i) h.record_lower_bound(20'000);  // 20 us old at the close
  EXPECT_FALSE(h.percentile_is_lower_bound(50));
  EXPECT_TRUE(h.percentile_is_lower_bound(100));
}

// Half the requests got no answer: the median is among them.
TEST(CensoredHistogram, APercentileAmongTheLowerBoundsIsMarked) {
  CensoredHistogram h;
  for (int i = 0; i < 500; ++i) h.record_exact(1'000'000);        // 1 ms
  for (int i = 0; i < 500; ++i) h.record_lower_bound(2'000'000);  // 2 ms and counting
  EXPECT_FALSE(h.percentile_is_lower_bound(50));                  // rank 500: the last answer
  EXPECT_TRUE(h.percentile_is_lower_bound(50.1));
  EXPECT_TRUE(h.percentile_is_lower_bound(75));
  // Lower bounds below the answers: the answered ones may be overtaken.
  CensoredHistogram early;
  for (int i = 0; i < 500; ++i) early.record_lower_bound(10'000);  // 10 us, unanswered
  for (int i = 0; i < 500; ++i) early.record_exact(1'000'000);
  EXPECT_TRUE(early.percentile_is_lower_bound(25));  // could be anywhere up to 1 ms
}

TEST(CensoredHistogram, MergeIsExact) {
  CensoredHistogram a, b, all;
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t v = 1000 + i * 37;
    (i % 2 ? a : b).record_exact(v);
    all.record_exact(v);
    if (i % 10 == 0) {
      (i % 3 ? a : b).record_lower_bound(v * 3);
      all.record_lower_bound(v * 3);
    }
  }
  a.merge(b);
  EXPECT_EQ(a, all);
  EXPECT_EQ(censored_latency_summary_us(a), censored_latency_summary_us(all));
}

}  // namespace
