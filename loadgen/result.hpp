// RunResult: what a run (or a merge of runs) produced, with its JSON form
// (SPEC §5) and the human summary. Both the run and --merge go through it,
// so a merged file has exactly the shape of a single one.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "loadgen/latency_histogram.hpp"
#include "loadgen/stats.hpp"

namespace iomodels::loadgen {

struct RunResult {
  nlohmann::json config;  // as written under "config"
  bool open_loop = false;
  double target_rps = 0;  // open loop: --rate
  double start_unix_s = 0;
  double duration_s = 0;  // the measured window
  double throughput_rps = 0;
  RunTotals totals;
  LatencyHistogram corrected;    // from the scheduled send time (= actual in a closed loop)
  LatencyHistogram uncorrected;  // open loop: from the actual send time
  std::map<std::uint32_t, TimelineSecond> timeline;  // second index (t_s - 1) -> that second
  int merged_from = 1;
};

nlohmann::json to_json(const RunResult& r);
// Throws std::runtime_error (or nlohmann's exceptions) on a file it cannot use.
RunResult result_from_json(const nlohmann::json& j);

// Open loop: fewer than 99% of the scheduled requests went out.
bool rate_not_sustained(const RunResult& r);

void print_summary(std::ostream& out, const RunResult& r);

// Combines runs exactly: counts and histograms add; rates add (the runs are
// taken to have run side by side); percentiles are recomputed from the sum.
RunResult merge_results(const std::vector<RunResult>& runs);

}  // namespace iomodels::loadgen
