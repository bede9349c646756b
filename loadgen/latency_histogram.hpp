// LatencyHistogram: a log-linear histogram of latencies in nanoseconds, in
// the manner of HdrHistogram (there is none packaged for C/C++ in Debian).
//
// Values below 256 ns get a bucket each. Above, every power of two [2^k,
// 2^(k+1)) is cut into 128 equal buckets, so a bucket is at most 1/128 of
// the values it holds wide (0.78%); reporting its midpoint keeps every
// percentile within 0.4% of the truth. Values are clamped at 100 s. The
// memory is constant (3899 counters), recording is a few instructions, and
// two histograms merge exactly by adding counters -- across threads,
// processes or hosts (see to_json / from_json and docs/loadgen.md).
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>

namespace iomodels::loadgen {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 7;                             // 128 buckets per octave
  static constexpr std::uint64_t kLinearLimit = 2u << kSubBucketBits;  // 256: exact below
  static constexpr std::uint64_t kHighestNs = 100'000'000'000;         // 100 s

  // The bucket of a value (clamped to kHighestNs); its bounds are
  // [bucket_low(i), bucket_high(i)).
  static constexpr std::size_t index_of(std::uint64_t ns) {
    if (ns > kHighestNs) ns = kHighestNs;
    if (ns < kLinearLimit) return static_cast<std::size_t>(ns);
    // ns in [2^k, 2^(k+1)) with k >= 8: shift so that 128 <= mantissa < 256.
    const int shift = std::bit_width(ns) - 1 - kSubBucketBits;
    const std::uint64_t mantissa = ns >> shift;
    return kLinearLimit + (shift - 1) * (kLinearLimit / 2) + (mantissa - kLinearLimit / 2);
  }
  static constexpr std::size_t kBucketCount = 3899;  // index_of(kHighestNs) + 1
  static std::uint64_t bucket_low(std::size_t index);
  static std::uint64_t bucket_high(std::size_t index);

  void record(std::uint64_t ns) {
    if (ns > kHighestNs) ns = kHighestNs;
    ++counts_[index_of(ns)];
    ++count_;
    sum_ += ns;
    if (ns < min_) min_ = ns;
    if (ns > max_) max_ = ns;
  }
  void merge(const LatencyHistogram& other);
  void clear() { *this = LatencyHistogram(); }

  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return count_ ? min_ : 0; }
  std::uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
  double stdev() const;  // from bucket midpoints around the exact mean
  // The value at or below which `percent` % of the values lie (a bucket
  // midpoint, clamped to the exact min and max). 0 when empty.
  double percentile(double percent) const;
  // The 1-based rank of that value, ceil(percent/100 * count), computed in
  // integers: in floating point 99.9% of 1000 is 999.0000000000001, whose
  // ceiling made p99.9 report the maximum. `percent` is read to 1e-4.
  std::uint64_t rank_of(double percent) const;
  // The bucket holding the value of a rank (1..count); count() must be > 0.
  std::size_t index_at_rank(std::uint64_t rank) const;
  std::uint64_t bucket_count(std::size_t index) const { return counts_[index]; }
  // What percentile() reports for a value in bucket `index`.
  double reported_value(std::size_t index) const;

  // The mergeable form: {"format", "unit", "sub_bucket_bits", "highest_ns",
  // "count", "min_ns", "max_ns", "sum_ns", "buckets": [[index, count], ...]}
  // with only non-zero buckets. from_json(to_json(h)) == h, exactly.
  nlohmann::json to_json() const;
  // Throws std::runtime_error on a form it cannot read exactly.
  static LatencyHistogram from_json(const nlohmann::json& j);

  bool operator==(const LatencyHistogram&) const = default;

 private:
  std::array<std::uint64_t, kBucketCount> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
};

// The percentile summary SPEC §5 asks for, in microseconds:
// {"p50", "p75", "p90", "p99", "p99_9", "p99_99", "max", "mean", "stdev"}.
nlohmann::json latency_summary_us(const LatencyHistogram& h);

}  // namespace iomodels::loadgen
