#include "loadgen/censored_histogram.hpp"

namespace iomodels::loadgen {

bool CensoredHistogram::percentile_is_lower_bound(double percent) const {
  if (censored.count() == 0) return false;
  if (percent >= 100.0) return true;
  const std::uint64_t rank = all.rank_of(percent);
  if (rank > all.count() - censored.count()) return true;  // unbounded above
  // The value of that rank among the known values alone.
  std::uint64_t seen = 0;
  std::size_t i = 0;
  for (; i < LatencyHistogram::kBucketCount; ++i) {
    seen += all.bucket_count(i) - censored.bucket_count(i);
    if (seen >= rank) break;
  }
  return all.reported_value(i) > all.percentile(percent) * (1.0 + kResolution);
}

nlohmann::json censored_summary_us(const CensoredHistogram& h,
                                   std::initializer_list<SummaryPoint> points, bool with_moments) {
  nlohmann::json out = nlohmann::json::object();
  nlohmann::json flags = nlohmann::json::object();
  for (const auto& [key, percent] : points) {
    out[key] =
        (percent >= 100.0 ? static_cast<double>(h.all.max()) : h.all.percentile(percent)) / 1000.0;
    flags[key] = h.percentile_is_lower_bound(percent);
  }
  if (with_moments) {
    out["mean"] = h.all.mean() / 1000.0;
    out["stdev"] = h.all.stdev() / 1000.0;
    flags["mean"] = h.mean_is_lower_bound();
  }
  out["lower_bound"] = std::move(flags);
  return out;
}

nlohmann::json censored_latency_summary_us(const CensoredHistogram& h) {
  return censored_summary_us(h,
                             {{"p50", 50},
                              {"p75", 75},
                              {"p90", 90},
                              {"p99", 99},
                              {"p99_9", 99.9},
                              {"p99_99", 99.99},
                              {"max", 100}},
                             true);
}

}  // namespace iomodels::loadgen
