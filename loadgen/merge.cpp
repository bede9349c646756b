// --merge: results of processes or hosts that ran side by side, combined
// exactly, after checking they belong together (docs/loadgen.md).
#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "loadgen/result.hpp"

namespace iomodels::loadgen {
namespace {

using nlohmann::json;

// Keys of `config` that may differ between the shards of one run: each host
// has its own source addresses, and one may have been interrupted.
bool shard_specific(const std::string& key) {
  return key == "interrupted" || key == "source_addrs";
}

// The first key in which two configurations differ, or "".
std::string config_difference(const json& a, const json& b) {
  for (const auto& [key, value] : a.items()) {
    if (shard_specific(key)) continue;
    if (!b.contains(key) || b[key] != value) return key;
  }
  for (const auto& [key, value] : b.items()) {
    if (!shard_specific(key) && !a.contains(key)) return key;
  }
  return "";
}

// The window on the reference clock: this host's clock minus its offset.
std::pair<double, double> reference_window(const RunResult& r) {
  const double offset = r.clock_offset_s.value_or(0.0);
  return {r.window.start_unix_s - offset, r.window.end_unix_s - offset};
}

std::string window_text(const RunResult& r) {
  const auto [start, end] = reference_window(r);
  char buf[96];
  std::snprintf(buf, sizeof buf, "[%.3f, %.3f]", start, end);
  return buf;
}

void check_shards(const std::vector<RunResult>& runs, const std::vector<std::string>& names) {
  const auto sharded = [](const RunResult& r) { return r.shard.has_value(); };
  const std::size_t n_sharded = std::count_if(runs.begin(), runs.end(), sharded);
  if (n_sharded == 0) return;
  if (n_sharded != runs.size()) {
    const std::size_t odd = std::find_if(runs.begin(), runs.end(), sharded) - runs.begin();
    const std::size_t plain = std::find_if_not(runs.begin(), runs.end(), sharded) - runs.begin();
    throw std::runtime_error(names[odd] + " is a shard (--shard) but " + names[plain] +
                             " is not: shards merge only with the other shards of their run");
  }
  const int count = runs.front().shard->count;
  std::vector<std::size_t> seen(static_cast<std::size_t>(count) + 1, runs.size());
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const ShardInfo& s = *runs[i].shard;
    if (s.count != count) {
      throw std::runtime_error(names[i] + " is shard " + std::to_string(s.index) + "/" +
                               std::to_string(s.count) + " but " + names[0] + " is of " +
                               std::to_string(count) + " shards");
    }
    if (seen[s.index] != runs.size()) {
      throw std::runtime_error(names[i] + " and " + names[seen[s.index]] + " are both shard " +
                               std::to_string(s.index) + "/" + std::to_string(count));
    }
    seen[s.index] = i;
    const std::string key = config_difference(runs[0].config, runs[i].config);
    if (!key.empty()) {
      const json& a = runs[0].config;
      const json& b = runs[i].config;
      throw std::runtime_error(names[i] + ": its configuration differs from " + names[0] +
                               "'s in \"" + key + "\" (" + (b.contains(key) ? b[key].dump() : "-") +
                               " vs " + (a.contains(key) ? a[key].dump() : "-") +
                               "): not shards of one run");
    }
  }
  for (int index = 1; index <= count; ++index) {
    if (seen[index] == runs.size()) {
      throw std::runtime_error("shard " + std::to_string(index) + "/" + std::to_string(count) +
                               " is missing (given: " + std::to_string(runs.size()) + " of " +
                               std::to_string(count) + ")");
    }
  }
}

// Side by side means a common moment: the latest start before the earliest end.
void check_windows(const std::vector<RunResult>& runs, const std::vector<std::string>& names) {
  std::size_t latest_start = 0, earliest_end = 0;
  for (std::size_t i = 1; i < runs.size(); ++i) {
    if (reference_window(runs[i]).first > reference_window(runs[latest_start]).first)
      latest_start = i;
    if (reference_window(runs[i]).second < reference_window(runs[earliest_end]).second)
      earliest_end = i;
  }
  if (reference_window(runs[latest_start]).first >= reference_window(runs[earliest_end]).second) {
    throw std::runtime_error(names[latest_start] + ": its window " +
                             window_text(runs[latest_start]) + " does not overlap " +
                             names[earliest_end] + "'s " + window_text(runs[earliest_end]) +
                             " (unix seconds on the reference clock): not one run");
  }
}

}  // namespace

RunResult merge_results(const std::vector<RunResult>& runs, const std::vector<std::string>& names) {
  if (runs.empty()) throw std::runtime_error("nothing to merge");
  check_shards(runs, names);
  check_windows(runs, names);
  const bool sharded = runs.front().shard.has_value();
  RunResult m;
  m.config = runs.front().config;
  m.merged_from = 0;
  m.parts = json::array();
  m.host = runs.front().host;
  auto [start, end] = reference_window(runs.front());
  bool one_clock = true;  // monotonic times compare: one host, no offsets
  std::uint64_t connections = 0;
  double rate = 0;
  bool interrupted = false;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const RunResult& r = runs[i];
    m.open_loop = m.open_loop || r.open_loop;
    m.m.add(r.m);
    for (const auto& [second, s] : r.timeline) {
      TimelineSecond& into = m.timeline[second];
      into.requests += s.requests;
      into.errors += s.errors;
      into.histogram.merge(s.histogram);
    }
    m.merged_from += r.merged_from;
    const auto [s, e] = reference_window(r);
    start = std::min(start, s);
    end = std::max(end, e);
    if (r.host != m.host) m.host.clear();
    one_clock = one_clock && r.host == runs.front().host && !r.host.empty() &&
                r.window.start_monotonic_ns && r.window.end_monotonic_ns;
    connections += r.config.value("connections", std::uint64_t{0});
    if (r.config.contains("rate") && r.config["rate"].is_number())
      rate += r.config["rate"].get<double>();
    interrupted = interrupted || r.config.value("interrupted", false);
    if (!r.invalid_reason.empty()) {
      if (!m.invalid_reason.empty()) m.invalid_reason += "; ";
      m.invalid_reason += names[i] + ": " + r.invalid_reason;
    }
    m.parts.push_back(
        {{"file", names[i]},
         {"host", r.host.empty() ? json() : json(r.host)},
         {"shard", r.shard
                       ? json(std::to_string(r.shard->index) + "/" + std::to_string(r.shard->count))
                       : json()},
         {"clock_offset_s", r.clock_offset_s ? json(*r.clock_offset_s) : json()},
         {"window",
          {{"start_unix_s", r.window.start_unix_s}, {"end_unix_s", r.window.end_unix_s}}}});
  }
  m.window.start_unix_s = start;
  m.window.end_unix_s = end;
  if (one_clock) {
    for (const RunResult& r : runs) {
      m.window.start_monotonic_ns =
          std::min(m.window.start_monotonic_ns.value_or(INT64_MAX), *r.window.start_monotonic_ns);
      m.window.end_monotonic_ns =
          std::max(m.window.end_monotonic_ns.value_or(INT64_MIN), *r.window.end_monotonic_ns);
    }
  }
  // Rates over the union of the windows: what all of them together did in
  // the time they took, never a sum of each one's own rate.
  m.duration_s = std::max(0.0, end - start);
  m.config["interrupted"] = interrupted;
  if (sharded) {
    // The shards' configurations already name the whole run's totals.
    m.target_rps = runs.front().target_rps;
  } else {
    // Independent processes side by side: their connections and rates add.
    m.config["connections"] = connections;
    if (m.open_loop) m.config["rate"] = rate;
    m.target_rps = rate;
  }
  return m;
}

}  // namespace iomodels::loadgen
