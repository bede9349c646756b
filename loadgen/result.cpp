#include "loadgen/result.hpp"

#include <stdexcept>

#include "loadgen/result_keys.hpp"

namespace iomodels::loadgen {
namespace {

using nlohmann::json;

constexpr int kFormatVersion = 2;
constexpr std::uint64_t kScheduleSlackNs = 1'000'000;  // schedule_kept: within 1 ms

json timeline_json(const RunResult& r) {
  json out = json::array();
  for (const auto& [second, s] : r.timeline) {
    out.push_back({{"t_s", second + 1},
                   {"requests", s.requests},
                   {"errors", s.errors},
                   {"p99_us", s.histogram.percentile(99) / 1000.0},
                   {"histogram", s.histogram.to_json()}});
  }
  return out;
}

json optional_json(const std::optional<std::int64_t>& v) {
  return v ? json(*v) : json();
}

json window_json(const Window& w) {
  return {{"start_unix_s", w.start_unix_s},
          {"end_unix_s", w.end_unix_s},
          {"start_monotonic_ns", optional_json(w.start_monotonic_ns)},
          {"end_monotonic_ns", optional_json(w.end_monotonic_ns)}};
}

Window window_from_json(const json& j) {
  Window w;
  w.start_unix_s = j.at("start_unix_s").get<double>();
  w.end_unix_s = j.at("end_unix_s").get<double>();
  if (!j.at("start_monotonic_ns").is_null())
    w.start_monotonic_ns = j["start_monotonic_ns"].get<std::int64_t>();
  if (!j.at("end_monotonic_ns").is_null())
    w.end_monotonic_ns = j["end_monotonic_ns"].get<std::int64_t>();
  return w;
}

json outcomes_json(const Outcomes& o) {
  json failed = json::object();
  for (const auto& f : kFailedOutcomes) failed[f.key] = o.*(f.field);
  return {{"measured", o.measured()},           {"answered_2xx", o.answered_2xx},
          {"answered_other", o.answered_other}, {"failed", failed},
          {"timed_out", o.timed_out},           {"open_at_end", o.open_at_end},
          {"never_sent", o.never_sent}};
}

Outcomes outcomes_from_json(const json& j) {
  Outcomes o;
  o.answered_2xx = j.at("answered_2xx").get<std::uint64_t>();
  o.answered_other = j.at("answered_other").get<std::uint64_t>();
  for (const auto& f : kFailedOutcomes)
    o.*(f.field) = j.at("failed").at(f.key).get<std::uint64_t>();
  o.timed_out = j.at("timed_out").get<std::uint64_t>();
  o.open_at_end = j.at("open_at_end").get<std::uint64_t>();
  o.never_sent = j.at("never_sent").get<std::uint64_t>();
  if (o.measured() != j.at("measured").get<std::uint64_t>())
    throw std::runtime_error("outcomes do not add up to \"measured\"");
  return o;
}

json fairness_json(const Fairness& f) {
  json first = censored_summary_us(f.first_answer, {{"p50", 50}, {"p99", 99}, {"max", 100}}, false);
  return {
      {"connections", f.connections},
      {"answered", f.answered},
      {"answered_share",
       f.connections ? static_cast<double>(f.answered) / static_cast<double>(f.connections) : 0.0},
      {"first_answer_us", first},
      {"histogram", f.first_answer.all.to_json()},
      {"histogram_censored", f.first_answer.censored.to_json()}};
}

Fairness fairness_from_json(const json& j) {
  Fairness f;
  f.connections = j.at("connections").get<std::uint64_t>();
  f.answered = j.at("answered").get<std::uint64_t>();
  f.first_answer.all = LatencyHistogram::from_json(j.at("histogram"));
  f.first_answer.censored = LatencyHistogram::from_json(j.at("histogram_censored"));
  return f;
}

// The version-1 totals, kept with their meaning: requests = responses; sent =
// requests + failed + unfinished.
void legacy_totals(json& j, const Outcomes& o) {
  j["requests"] = o.responses();
  j["failed"] = o.failed() - o.failed_body + o.timed_out;
  j["unfinished"] = o.open_at_end;
  j["sent"] = o.measured() - o.never_sent;
}

}  // namespace

double RunResult::throughput_rps() const {
  return duration_s > 0 ? static_cast<double>(m.totals.outcomes.responses()) / duration_s : 0.0;
}

double RunResult::goodput_rps() const {
  return duration_s > 0 ? static_cast<double>(m.totals.outcomes.answered_2xx) / duration_s : 0.0;
}

nlohmann::json to_json(const RunResult& r) {
  const RunTotals& t = r.m.totals;
  json status = json::object();
  for (std::size_t code = 0; code < t.status.size(); ++code) {
    if (t.status[code] != 0) status[code == 0 ? "other" : std::to_string(code)] = t.status[code];
  }
  json errors = {{"connect", t.errors.connect()}};
  for (const auto& kind : kErrorKinds) errors[kind.key] = t.errors.*(kind.field);
  errors["total"] = t.errors.total();

  json j = {
      {"tool", "loadgen"},
      {"format_version", kFormatVersion},
      {"config", r.config},
      {"host", r.host.empty() ? json() : json(r.host)},
      {"shard", r.shard ? json{{"index", r.shard->index},
                               {"count", r.shard->count},
                               {"connections", r.shard->connections},
                               {"first_connection", r.shard->first_connection}}
                        : json()},
      {"clock_offset_s", r.clock_offset_s ? json(*r.clock_offset_s) : json()},
      {"window", window_json(r.window)},
      {"start_unix_s", r.window.start_unix_s},
      {"duration_s", r.duration_s},
      {"outcomes", outcomes_json(t.outcomes)},
      {"bytes_read", t.bytes_read},
      {"bytes_written", t.bytes_written},
      {"throughput_rps", r.throughput_rps()},
      {"goodput_rps", r.goodput_rps()},
      {"status", status},
      {"errors", errors},
      {"connections",
       {{"asked", t.slots}, {"opened", t.slots_opened}, {"not_opened", t.slots - t.slots_opened}}},
      {"latency_us", censored_latency_summary_us(r.m.latency)},
      {"latency_answered_us", latency_summary_us(r.m.answered)},
      {"histogram", r.m.latency.all.to_json()},
      {"histogram_censored", r.m.latency.censored.to_json()},
      {"histogram_answered", r.m.answered.to_json()},
      {"fairness", fairness_json(r.m.fairness)},
      {"timeline", timeline_json(r)},
      {"merged_from", r.merged_from},
      {"invalid_reason", r.invalid_reason.empty() ? json() : json(r.invalid_reason)}};
  legacy_totals(j, t.outcomes);
  if (!t.last_connect_error.empty()) j["last_connect_error"] = t.last_connect_error;
  if (!r.parts.is_null()) j["parts"] = r.parts;
  if (r.open_loop) {
    j["target_rps"] = r.target_rps;
    j["scheduled"] = t.outcomes.measured();
    j["rate_sustained"] = !rate_not_sustained(r);
    j["schedule_kept"] = schedule_kept(r);
    j["send_lag_us"] = {{"p50", r.m.send_lag.percentile(50) / 1000.0},
                        {"p99", r.m.send_lag.percentile(99) / 1000.0},
                        {"max", r.m.send_lag.max() / 1000.0}};
    j["histogram_send_lag"] = r.m.send_lag.to_json();
    j["latency_uncorrected_us"] = censored_latency_summary_us(r.m.uncorrected);
    j["histogram_uncorrected"] = r.m.uncorrected.all.to_json();
    j["histogram_uncorrected_censored"] = r.m.uncorrected.censored.to_json();
  }
  return j;
}

RunResult result_from_json(const nlohmann::json& j) {
  const int version = j.value("format_version", 0);
  if (version != kFormatVersion) {
    throw std::runtime_error("format_version " + std::to_string(version) +
                             ": only version 2 results (this loadgen's) merge; run it again");
  }
  RunResult r;
  r.config = j.at("config");
  r.open_loop = j.contains("histogram_uncorrected");
  r.target_rps = j.value("target_rps", 0.0);
  r.window = window_from_json(j.at("window"));
  r.duration_s = j.at("duration_s").get<double>();
  r.merged_from = j.value("merged_from", 1);
  if (j.contains("host") && j["host"].is_string()) r.host = j["host"].get<std::string>();
  if (j.contains("shard") && j["shard"].is_object()) {
    const json& s = j["shard"];
    r.shard = ShardInfo{s.at("index").get<int>(), s.at("count").get<int>(),
                        s.at("connections").get<std::uint64_t>(),
                        s.at("first_connection").get<std::uint64_t>()};
  }
  if (j.contains("clock_offset_s") && j["clock_offset_s"].is_number())
    r.clock_offset_s = j["clock_offset_s"].get<double>();
  if (j.contains("invalid_reason") && j["invalid_reason"].is_string())
    r.invalid_reason = j["invalid_reason"].get<std::string>();
  if (j.contains("parts")) r.parts = j["parts"];
  RunTotals& t = r.m.totals;
  t.outcomes = outcomes_from_json(j.at("outcomes"));
  t.bytes_read = j.value("bytes_read", std::uint64_t{0});
  t.bytes_written = j.value("bytes_written", std::uint64_t{0});
  for (const auto& [code, n] : j.at("status").items()) {
    const std::size_t index = code == "other" ? 0 : std::stoul(code);
    if (index >= t.status.size()) throw std::runtime_error("status code out of range: " + code);
    t.status[index] += n.get<std::uint64_t>();
  }
  const json& errors = j.at("errors");
  for (const auto& kind : kErrorKinds)
    t.errors.*(kind.field) = errors.value(kind.key, std::uint64_t{0});
  t.slots = j.at("connections").at("asked").get<std::uint64_t>();
  t.slots_opened = j["connections"].at("opened").get<std::uint64_t>();
  t.last_connect_error = j.value("last_connect_error", "");
  r.m.latency.all = LatencyHistogram::from_json(j.at("histogram"));
  r.m.latency.censored = LatencyHistogram::from_json(j.at("histogram_censored"));
  r.m.answered = LatencyHistogram::from_json(j.at("histogram_answered"));
  r.m.fairness = fairness_from_json(j.at("fairness"));
  if (r.open_loop) {
    r.m.uncorrected.all = LatencyHistogram::from_json(j.at("histogram_uncorrected"));
    r.m.uncorrected.censored = LatencyHistogram::from_json(j.at("histogram_uncorrected_censored"));
    r.m.send_lag = LatencyHistogram::from_json(j.at("histogram_send_lag"));
  }
  if (r.m.latency.all.count() != t.outcomes.measured())
    throw std::runtime_error("the histogram's count differs from the measured requests");
  for (const auto& entry : j.at("timeline")) {
    const auto t_s = entry.at("t_s").get<std::uint32_t>();
    if (t_s == 0) throw std::runtime_error("timeline entry with t_s 0");
    TimelineSecond& s = r.timeline[t_s - 1];
    s.requests += entry.at("requests").get<std::uint64_t>();
    s.errors += entry.at("errors").get<std::uint64_t>();
    s.histogram.merge(LatencyHistogram::from_json(entry.at("histogram")));
  }
  return r;
}

bool rate_not_sustained(const RunResult& r) {
  const Outcomes& o = r.m.totals.outcomes;
  return r.open_loop && o.measured() > 0 &&
         static_cast<double>(o.measured() - o.never_sent) <
             0.99 * static_cast<double>(o.measured());
}

bool schedule_kept(const RunResult& r) {
  if (!r.open_loop || rate_not_sustained(r)) return false;
  const LatencyHistogram& lag = r.m.send_lag;
  return lag.count() == 0 || lag.percentile(99) <= static_cast<double>(kScheduleSlackNs);
}

}  // namespace iomodels::loadgen
