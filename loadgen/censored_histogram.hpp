// CensoredHistogram: latencies of which some are only lower bounds.
//
// A request that got no answer (timed out, failed, still open when the
// window closed, never sent) has no latency, only an age: its true latency
// is at least that. Leaving it out hides exactly the requests that waited
// longest; entering its age as if it were a latency understates them. So
// every value goes into `all`, and the lower bounds also into `censored`.
//
// A percentile read from `all` is then bracketed: it is at least the value
// read (the lower bounds can only grow), and at most the same percentile
// with every lower bound taken as infinitely slow, i.e. the value of its rank
// among the known (answered) values alone, or unbounded if there are fewer
// of those than the rank. It is marked a lower bound when that upper end
// lies beyond the histogram's resolution (kResolution) above it: then the
// requests that got no answer could have moved it. A few requests still
// open with small ages at the close of a healthy run do not mark the
// median: the answered values alone already fix it. The max and the mean
// are lower bounds as soon as one value is.
#pragma once

#include <initializer_list>
#include <utility>

#include <nlohmann/json.hpp>

#include "loadgen/latency_histogram.hpp"

namespace iomodels::loadgen {

struct CensoredHistogram {
  // Two adjacent buckets' reported values are < 0.8% apart (1/128).
  static constexpr double kResolution = 0.01;

  LatencyHistogram all;
  LatencyHistogram censored;  // the lower bounds alone, also counted in `all`

  void record_exact(std::uint64_t ns) { all.record(ns); }
  void record_lower_bound(std::uint64_t ns) {
    all.record(ns);
    censored.record(ns);
  }
  void merge(const CensoredHistogram& o) {
    all.merge(o.all);
    censored.merge(o.censored);
  }
  // Is the p-th percentile of `all` only a lower bound? (p = 100: the max.)
  bool percentile_is_lower_bound(double percent) const;
  bool mean_is_lower_bound() const { return censored.count() != 0; }

  bool operator==(const CensoredHistogram&) const = default;
};

// A percentile to report: its JSON key and its percent (100 = max).
using SummaryPoint = std::pair<const char*, double>;

// {"p50": us, ..., "max": us, ["mean", "stdev"], "lower_bound": {key: bool}}
// over `points`; with_moments adds the mean (flagged) and the stdev.
nlohmann::json censored_summary_us(const CensoredHistogram& h,
                                   std::initializer_list<SummaryPoint> points, bool with_moments);
// The full set SPEC §5 asks for: p50 p75 p90 p99 p99_9 p99_99 max mean stdev.
nlohmann::json censored_latency_summary_us(const CensoredHistogram& h);

}  // namespace iomodels::loadgen
