#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "loadgen/latency_histogram.hpp"

using iomodels::loadgen::LatencyHistogram;

namespace {

// The exact percentile of sorted values, with the same rank rule
// (ceil(p/100 * n), p given in parts per million of a percent's hundredth).
double exact_percentile(const std::vector<std::uint64_t>& sorted, double p) {
  const auto ppm = static_cast<std::uint64_t>(std::llround(p * 10'000));
  const std::size_t rank = (ppm * sorted.size() + 999'999) / 1'000'000;
  return static_cast<double>(sorted[std::max<std::size_t>(rank, 1) - 1]);
}

// k * 1000 values of which the k largest are 200 ns and the rest 100 ns:
// p99.9 is the value of rank 999k, a 100. A floating-point rank
// (ceil(0.999 * 1000) = 1000) read the maximum instead.
TEST(LatencyHistogram, IntegerRankAtExactMultiplesOfTheCount) {
  for (std::uint64_t k = 1; k <= 64; ++k) {
    LatencyHistogram h;
    for (std::uint64_t i = 0; i < 999 * k; ++i) h.record(100);
    for (std::uint64_t i = 0; i < k; ++i) h.record(200);
    ASSERT_EQ(h.rank_of(99.9), 999 * k) << "count " << h.count();
    ASSERT_EQ(h.percentile(99.9), 100.0) << "count " << h.count();
  }
  LatencyHistogram h;
  for (int i = 0; i < 9999; ++i) h.record(100);
  h.record(200);
  EXPECT_EQ(h.rank_of(99.99), 9999u);
  EXPECT_EQ(h.percentile(99.99), 100.0);
  EXPECT_EQ(h.rank_of(50), 5000u);
  EXPECT_EQ(h.rank_of(100), 10000u);
  EXPECT_EQ(h.rank_of(0.00001), 1u);
}

TEST(LatencyHistogram, BucketsTileTheRangeWithoutGaps) {
  for (std::size_t i = 0; i + 1 < LatencyHistogram::kBucketCount; ++i) {
    ASSERT_EQ(LatencyHistogram::bucket_high(i), LatencyHistogram::bucket_low(i + 1)) << i;
    ASSERT_EQ(LatencyHistogram::index_of(LatencyHistogram::bucket_low(i)), i);
    ASSERT_EQ(LatencyHistogram::index_of(LatencyHistogram::bucket_high(i) - 1), i);
  }
  EXPECT_EQ(LatencyHistogram::index_of(LatencyHistogram::kHighestNs),
            LatencyHistogram::kBucketCount - 1);
  EXPECT_EQ(LatencyHistogram::index_of(UINT64_MAX), LatencyHistogram::kBucketCount - 1);
}

TEST(LatencyHistogram, EveryBucketIsWithinOnePercentOfItsValues) {
  for (std::size_t i = 0; i < LatencyHistogram::kBucketCount; ++i) {
    const double low = LatencyHistogram::bucket_low(i);
    const double width = LatencyHistogram::bucket_high(i) - low;
    if (low >= 1000) {
      ASSERT_LE(width / low, 0.01) << "bucket " << i;
    }
  }
}

TEST(LatencyHistogram, UniformDistributionPercentilesWithinOnePercent) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<std::uint64_t> dist(1'000, 100'000'000);  // 1 us .. 100 ms
  LatencyHistogram h;
  std::vector<std::uint64_t> values;
  for (int i = 0; i < 200'000; ++i) {
    values.push_back(dist(rng));
    h.record(values.back());
  }
  std::sort(values.begin(), values.end());
  for (double p : {1.0, 10.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99}) {
    const double exact = exact_percentile(values, p);
    EXPECT_NEAR(h.percentile(p), exact, exact * 0.01) << "p" << p;
  }
  EXPECT_EQ(h.count(), values.size());
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.max(), values.back());
  EXPECT_DOUBLE_EQ(h.percentile(100), static_cast<double>(values.back()));
}

TEST(LatencyHistogram, LogNormalMeanAndStdevClose) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(std::log(50'000.0), 0.8);  // around 50 us
  LatencyHistogram h;
  double sum = 0, sum_sq = 0;
  const int n = 100'000;
  std::vector<std::uint64_t> values;
  for (int i = 0; i < n; ++i) {
    const auto v = static_cast<std::uint64_t>(dist(rng));
    values.push_back(v);
    h.record(v);
    sum += v;
    sum_sq += static_cast<double>(v) * v;
  }
  const double mean = sum / n;
  const double stdev = std::sqrt(sum_sq / n - mean * mean);
  EXPECT_NEAR(h.mean(), mean, mean * 1e-9);  // the sum is exact
  EXPECT_NEAR(h.stdev(), stdev, stdev * 0.01);
  std::sort(values.begin(), values.end());
  EXPECT_NEAR(h.percentile(99), exact_percentile(values, 99), exact_percentile(values, 99) * 0.01);
}

TEST(LatencyHistogram, ConstantValueIsReportedExactly) {
  LatencyHistogram h;
  for (int i = 0; i < 1000; ++i) h.record(20'000'000);  // 20 ms
  EXPECT_DOUBLE_EQ(h.percentile(50), 20'000'000.0);     // clamped to min == max
  EXPECT_DOUBLE_EQ(h.mean(), 20'000'000.0);
  EXPECT_DOUBLE_EQ(h.stdev(), 0.0);
}

TEST(LatencyHistogram, ValuesAboveTheCeilingAreClamped) {
  LatencyHistogram h;
  h.record(500'000'000'000);  // 500 s
  EXPECT_EQ(h.max(), LatencyHistogram::kHighestNs);
  EXPECT_EQ(h.count(), 1u);
}

TEST(LatencyHistogram, MergeEqualsRecordingAllInOne) {
  std::mt19937_64 rng(1);
  std::exponential_distribution<double> dist(1.0 / 200'000);
  LatencyHistogram a, b, all;
  for (int i = 0; i < 50'000; ++i) {
    const auto v = static_cast<std::uint64_t>(dist(rng)) + 1;
    (i % 3 == 0 ? a : b).record(v);
    all.record(v);
  }
  LatencyHistogram merged = a;
  merged.merge(b);
  EXPECT_EQ(merged, all);
  EXPECT_EQ(merged.percentile(99.9), all.percentile(99.9));
}

TEST(LatencyHistogram, JsonRoundTripIsExact) {
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<std::uint64_t> dist(0, LatencyHistogram::kHighestNs);
  LatencyHistogram h;
  for (int i = 0; i < 10'000; ++i) h.record(dist(rng));
  const auto text = h.to_json().dump();
  EXPECT_EQ(LatencyHistogram::from_json(nlohmann::json::parse(text)), h);
  EXPECT_EQ(LatencyHistogram::from_json(LatencyHistogram().to_json()), LatencyHistogram());
}

TEST(LatencyHistogram, FromJsonRejectsAnotherForm) {
  auto j = LatencyHistogram().to_json();
  j["sub_bucket_bits"] = 8;
  EXPECT_THROW(LatencyHistogram::from_json(j), std::runtime_error);
  auto k = LatencyHistogram().to_json();
  k["count"] = 5;  // buckets do not add up
  EXPECT_THROW(LatencyHistogram::from_json(k), std::runtime_error);
}

}  // namespace
