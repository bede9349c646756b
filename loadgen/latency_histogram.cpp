#include "loadgen/latency_histogram.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace iomodels::loadgen {
namespace {

constexpr std::uint64_t kSubBuckets = 1u << LatencyHistogram::kSubBucketBits;  // 128
constexpr char kFormat[] = "iomodels-loglinear-v1";

}  // namespace

std::uint64_t LatencyHistogram::bucket_low(std::size_t index) {
  if (index < kLinearLimit) return index;
  const std::size_t rest = index - kLinearLimit;
  const int shift = static_cast<int>(rest / kSubBuckets) + 1;
  const std::uint64_t mantissa = kSubBuckets + rest % kSubBuckets;
  return mantissa << shift;
}

std::uint64_t LatencyHistogram::bucket_high(std::size_t index) {
  if (index < kLinearLimit) return index + 1;
  const int shift = static_cast<int>((index - kLinearLimit) / kSubBuckets) + 1;
  return bucket_low(index) + (std::uint64_t{1} << shift);
}

static_assert(LatencyHistogram::kBucketCount ==
              LatencyHistogram::index_of(LatencyHistogram::kHighestNs) + 1);

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (std::size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  if (other.min_ < min_) min_ = other.min_;
  if (other.max_ > max_) max_ = other.max_;
}

std::uint64_t LatencyHistogram::rank_of(double percent) const {
  if (count_ == 0) return 0;
  if (percent >= 100.0) return count_;
  if (percent <= 0.0) return 1;
  // Parts per million of a percent's hundredth: 99.99 -> 999900.
  __extension__ using Wide = unsigned __int128;  // ppm * count passes 64 bits
  const auto ppm = static_cast<Wide>(std::llround(percent * 10'000.0));
  const Wide scaled = ppm * count_;
  const auto rank = static_cast<std::uint64_t>((scaled + 999'999) / 1'000'000);
  return std::max<std::uint64_t>(rank, 1);
}

std::size_t LatencyHistogram::index_at_rank(std::uint64_t rank) const {
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= rank) return i;
  }
  return kBucketCount - 1;
}

double LatencyHistogram::percentile(double percent) const {
  if (count_ == 0) return 0.0;
  if (percent >= 100.0) return static_cast<double>(max_);
  return reported_value(index_at_rank(rank_of(percent)));
}

double LatencyHistogram::reported_value(std::size_t i) const {
  const double low = static_cast<double>(bucket_low(i));
  const double width = static_cast<double>(bucket_high(i) - bucket_low(i));
  // Width-1 buckets hold exactly one value; wider ones report the middle.
  double value = width <= 1.0 ? low : low + width / 2.0;
  return std::clamp(value, static_cast<double>(min()), static_cast<double>(max_));
}

double LatencyHistogram::stdev() const {
  if (count_ < 2) return 0.0;
  const double m = mean();
  double acc = 0.0;
  for (std::size_t i = 0; i < kBucketCount; ++i) {
    if (counts_[i] == 0) continue;
    double mid =
        (static_cast<double>(bucket_low(i)) + static_cast<double>(bucket_high(i) - 1)) / 2.0;
    // The extreme buckets hold min and max exactly; no value lies beyond.
    mid = std::clamp(mid, static_cast<double>(min()), static_cast<double>(max_));
    acc += static_cast<double>(counts_[i]) * (mid - m) * (mid - m);
  }
  return std::sqrt(acc / static_cast<double>(count_));
}

nlohmann::json LatencyHistogram::to_json() const {
  nlohmann::json buckets = nlohmann::json::array();
  for (std::size_t i = 0; i < kBucketCount; ++i) {
    if (counts_[i] != 0) buckets.push_back({i, counts_[i]});
  }
  return {{"format", kFormat},        {"unit", "ns"},    {"sub_bucket_bits", kSubBucketBits},
          {"highest_ns", kHighestNs}, {"count", count_}, {"min_ns", min()},
          {"max_ns", max_},           {"sum_ns", sum_},  {"buckets", std::move(buckets)}};
}

LatencyHistogram LatencyHistogram::from_json(const nlohmann::json& j) {
  if (j.value("format", "") != kFormat || j.value("sub_bucket_bits", -1) != kSubBucketBits ||
      j.value("highest_ns", std::uint64_t{0}) != kHighestNs) {
    throw std::runtime_error("histogram is not in the " + std::string(kFormat) +
                             " form with 7 sub-bucket bits and a 100 s ceiling");
  }
  LatencyHistogram h;
  std::uint64_t total = 0;
  for (const auto& pair : j.at("buckets")) {
    const auto index = pair.at(0).get<std::uint64_t>();
    const auto n = pair.at(1).get<std::uint64_t>();
    if (index >= kBucketCount) throw std::runtime_error("histogram bucket index out of range");
    h.counts_[index] += n;
    total += n;
  }
  h.count_ = j.at("count").get<std::uint64_t>();
  if (total != h.count_) throw std::runtime_error("histogram buckets do not add up to its count");
  h.sum_ = j.at("sum_ns").get<std::uint64_t>();
  h.max_ = j.at("max_ns").get<std::uint64_t>();
  h.min_ = h.count_ ? j.at("min_ns").get<std::uint64_t>() : UINT64_MAX;
  return h;
}

nlohmann::json latency_summary_us(const LatencyHistogram& h) {
  auto us = [&](double percent) { return h.percentile(percent) / 1000.0; };
  return {{"p50", us(50)},
          {"p75", us(75)},
          {"p90", us(90)},
          {"p99", us(99)},
          {"p99_9", us(99.9)},
          {"p99_99", us(99.99)},
          {"max", h.max() / 1000.0},
          {"mean", h.mean() / 1000.0},
          {"stdev", h.stdev() / 1000.0}};
}

}  // namespace iomodels::loadgen
