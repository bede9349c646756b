// RunResult: what a run (or a merge of runs) produced, with its JSON form
// (SPEC §5, format_version 2) and the human summary. Both the run and --merge
// go through it, so a merged file has exactly the shape of a single one.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "loadgen/measurements.hpp"

namespace iomodels::loadgen {

// The measured window on both clocks. Monotonic times compare only within
// one machine: a merge across hosts has none.
struct Window {
  double start_unix_s = 0, end_unix_s = 0;
  std::optional<std::int64_t> start_monotonic_ns, end_monotonic_ns;
};

struct ShardInfo {
  int index = 1, count = 1;            // --shard index/count
  std::uint64_t connections = 0;       // this shard's part
  std::uint64_t first_connection = 0;  // its global numbering starts here
};

struct RunResult {
  nlohmann::json config;  // as written under "config"
  bool open_loop = false;
  double target_rps = 0;  // open loop: --rate (over all shards)
  Window window;
  double duration_s = 0;  // the window's length (a merge: the union's)
  Measurements m;
  std::map<std::uint32_t, TimelineSecond> timeline;  // second index (t_s - 1) -> that second
  int merged_from = 1;
  std::string host;  // empty in a merge across hosts
  std::optional<ShardInfo> shard;
  std::optional<double> clock_offset_s;
  std::string invalid_reason;  // empty: valid
  nlohmann::json parts;        // a merge: where each input came from

  double throughput_rps() const;  // every response
  double goodput_rps() const;     // 2xx only
};

nlohmann::json to_json(const RunResult& r);
// Throws std::runtime_error (or nlohmann's exceptions) on a file it cannot use.
RunResult result_from_json(const nlohmann::json& j);

// Open loop: fewer than 99% of the measured requests went out.
bool rate_not_sustained(const RunResult& r);
// Open loop: rate sustained and 99% of the sends within 1 ms of schedule.
bool schedule_kept(const RunResult& r);

void print_summary(std::ostream& out, const RunResult& r);

// Combines runs that ran side by side, exactly: counts and histograms add,
// flags and percentiles are recomputed from the sums, rates are over the
// union of the windows. `names` (the files) name the culprit of a mismatch:
// shards missing, duplicated, of another run, or windows that do not
// overlap. Throws std::runtime_error with that message.
RunResult merge_results(const std::vector<RunResult>& runs, const std::vector<std::string>& names);

}  // namespace iomodels::loadgen
