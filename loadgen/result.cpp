#include "loadgen/result.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace iomodels::loadgen {
namespace {

using nlohmann::json;

// The error kinds in the order of the report, with their JSON keys.
struct ErrorKind {
  const char* key;
  std::uint64_t ErrorCounts::*field;
  const char* meaning;
};
constexpr ErrorKind kErrorKinds[] = {
    {"connect_refused", &ErrorCounts::connect_refused, "connect refused"},
    {"connect_timeout", &ErrorCounts::connect_timeout, "connect timed out"},
    {"connect_reset", &ErrorCounts::connect_reset, "connect reset"},
    {"connect_other", &ErrorCounts::connect_other, "connect failed otherwise"},
    {"read", &ErrorCounts::read, "read error / closed with requests unanswered"},
    {"reset", &ErrorCounts::reset, "connection reset"},
    {"write", &ErrorCounts::write, "write error"},
    {"timeout", &ErrorCounts::timeout, "request timed out"},
    {"status", &ErrorCounts::status, "status >= 400"},
    {"parse", &ErrorCounts::parse, "not an HTTP response"},
    {"body", &ErrorCounts::body, "body check failed"},
};

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

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%s", bytes, units[u]);
  return buf;
}

std::string human_us(double us) {
  char buf[32];
  if (us < 1000)
    std::snprintf(buf, sizeof buf, "%.2fus", us);
  else if (us < 1e6)
    std::snprintf(buf, sizeof buf, "%.2fms", us / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.2fs", us / 1e6);
  return buf;
}

void print_latency(std::ostream& out, const char* title, const LatencyHistogram& h) {
  out << "  " << title << "\n";
  const double mean = h.mean() / 1e3, stdev = h.stdev() / 1e3, max = h.max() / 1e3;
  out << "    mean " << human_us(mean) << "   stdev " << human_us(stdev) << "   max "
      << human_us(max) << "\n";
  const std::pair<const char*, double> points[] = {{"50%", 50}, {"75%", 75},     {"90%", 90},
                                                   {"99%", 99}, {"99.9%", 99.9}, {"99.99%", 99.99}};
  for (const auto& [label, p] : points) {
    char line[64];
    std::snprintf(line, sizeof line, "    %7s %12s\n", label,
                  human_us(h.percentile(p) / 1e3).c_str());
    out << line;
  }
}

}  // namespace

nlohmann::json to_json(const RunResult& r) {
  const RunTotals& t = r.totals;
  json status = json::object();
  for (std::size_t code = 0; code < t.status.size(); ++code) {
    if (t.status[code] != 0) status[code == 0 ? "other" : std::to_string(code)] = t.status[code];
  }
  json errors = {{"connect", t.errors.connect()}};
  for (const auto& kind : kErrorKinds) errors[kind.key] = t.errors.*(kind.field);
  errors["total"] = t.errors.total();

  json j = {
      {"tool", "loadgen"},
      {"format_version", 1},
      {"config", r.config},
      {"start_unix_s", r.start_unix_s},
      {"duration_s", r.duration_s},
      {"requests", t.requests},
      {"sent", t.sent},
      {"failed", t.failed},
      {"unfinished", t.unfinished},
      {"bytes_read", t.bytes_read},
      {"bytes_written", t.bytes_written},
      {"throughput_rps", r.throughput_rps},
      {"status", status},
      {"errors", errors},
      {"connections",
       {{"asked", t.slots}, {"opened", t.slots_opened}, {"not_opened", t.slots - t.slots_opened}}},
      {"latency_us", latency_summary_us(r.corrected)},
      {"histogram", r.corrected.to_json()},
      {"timeline", timeline_json(r)},
      {"merged_from", r.merged_from}};
  if (!t.last_connect_error.empty()) j["last_connect_error"] = t.last_connect_error;
  if (r.open_loop) {
    j["target_rps"] = r.target_rps;
    j["scheduled"] = t.scheduled;
    j["rate_sustained"] = !rate_not_sustained(r);
    j["latency_uncorrected_us"] = latency_summary_us(r.uncorrected);
    j["histogram_uncorrected"] = r.uncorrected.to_json();
  }
  return j;
}

RunResult result_from_json(const nlohmann::json& j) {
  RunResult r;
  r.config = j.at("config");
  r.open_loop = j.contains("histogram_uncorrected");
  r.target_rps = j.value("target_rps", 0.0);
  r.start_unix_s = j.value("start_unix_s", 0.0);
  r.duration_s = j.at("duration_s").get<double>();
  r.throughput_rps = j.at("throughput_rps").get<double>();
  r.merged_from = j.value("merged_from", 1);
  RunTotals& t = r.totals;
  t.requests = j.at("requests").get<std::uint64_t>();
  t.sent = j.value("sent", std::uint64_t{0});
  t.failed = j.value("failed", std::uint64_t{0});
  t.unfinished = j.value("unfinished", std::uint64_t{0});
  t.scheduled = j.value("scheduled", std::uint64_t{0});
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
  if (j.contains("connections")) {
    t.slots = j["connections"].at("asked").get<std::uint64_t>();
    t.slots_opened = j["connections"].at("opened").get<std::uint64_t>();
  }
  t.last_connect_error = j.value("last_connect_error", "");
  r.corrected = LatencyHistogram::from_json(j.at("histogram"));
  if (r.open_loop) r.uncorrected = LatencyHistogram::from_json(j.at("histogram_uncorrected"));
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
  return r.open_loop && r.totals.scheduled > 0 &&
         static_cast<double>(r.totals.sent) < 0.99 * static_cast<double>(r.totals.scheduled);
}

RunResult merge_results(const std::vector<RunResult>& runs) {
  if (runs.empty()) throw std::runtime_error("nothing to merge");
  RunResult m;
  m.config = runs.front().config;
  m.merged_from = 0;
  m.start_unix_s = runs.front().start_unix_s;
  std::uint64_t connections = 0;
  double rate = 0;
  for (const RunResult& r : runs) {
    m.open_loop = m.open_loop || r.open_loop;
    m.target_rps += r.target_rps;
    m.start_unix_s = std::min(m.start_unix_s, r.start_unix_s);
    m.duration_s = std::max(m.duration_s, r.duration_s);
    // Side by side, rates add; averaging them would undercount.
    m.throughput_rps += r.throughput_rps;
    m.totals.add(r.totals);
    m.corrected.merge(r.corrected);
    m.uncorrected.merge(r.uncorrected);
    for (const auto& [second, s] : r.timeline) {
      TimelineSecond& into = m.timeline[second];
      into.requests += s.requests;
      into.errors += s.errors;
      into.histogram.merge(s.histogram);
    }
    m.merged_from += r.merged_from;
    connections += r.config.value("connections", std::uint64_t{0});
    if (r.config.contains("rate") && r.config["rate"].is_number())
      rate += r.config["rate"].get<double>();
  }
  m.config["connections"] = connections;
  if (m.open_loop) m.config["rate"] = rate;
  return m;
}

void print_summary(std::ostream& out, const RunResult& r) {
  const RunTotals& t = r.totals;
  print_latency(out, r.open_loop ? "Latency (corrected: from the scheduled send time)" : "Latency",
                r.corrected);
  if (r.open_loop)
    print_latency(out, "Latency (uncorrected: from the actual send time)", r.uncorrected);
  char line[160];
  std::snprintf(line, sizeof line, "  %llu requests in %.2fs, %s read, %s written\n",
                static_cast<unsigned long long>(t.requests), r.duration_s,
                human_bytes(static_cast<double>(t.bytes_read)).c_str(),
                human_bytes(static_cast<double>(t.bytes_written)).c_str());
  out << line;
  out << "  status:";
  for (std::size_t code = 0; code < t.status.size(); ++code) {
    if (t.status[code] != 0)
      out << " " << (code == 0 ? std::string("other") : std::to_string(code)) << "="
          << t.status[code];
  }
  out << "\n";
  std::snprintf(
      line, sizeof line, "  sent %llu, answered %llu, failed %llu, unfinished at the end %llu\n",
      static_cast<unsigned long long>(t.sent), static_cast<unsigned long long>(t.requests),
      static_cast<unsigned long long>(t.failed), static_cast<unsigned long long>(t.unfinished));
  out << line;
  if (t.errors.total() != 0) {
    out << "  Errors:\n";
    for (const auto& kind : kErrorKinds) {
      const std::uint64_t n = t.errors.*(kind.field);
      if (n == 0) continue;
      std::snprintf(line, sizeof line, "    %-16s %12llu   %s\n", kind.key,
                    static_cast<unsigned long long>(n), kind.meaning);
      out << line;
    }
    if (!t.last_connect_error.empty())
      out << "    (last connect error: " << t.last_connect_error << ")\n";
  }
  std::snprintf(line, sizeof line, "Requests/sec: %12.2f\n", r.throughput_rps);
  out << line;
  if (r.duration_s > 0) {
    out << "Transfer/sec: " << human_bytes(static_cast<double>(t.bytes_read) / r.duration_s)
        << "\n";
  }
  if (t.slots_opened < t.slots) {
    out << "WARNING: CONNECTIONS: asked " << t.slots << ", got " << t.slots_opened << " ("
        << t.slots - t.slots_opened << " never opened";
    if (!t.last_connect_error.empty()) out << "; last error: " << t.last_connect_error;
    out << ")\n";
  }
  if (r.open_loop) {
    std::snprintf(line, sizeof line,
                  "Target rate: %.2f/s, achieved %.2f/s (%llu of %llu scheduled requests sent)\n",
                  r.target_rps, r.throughput_rps, static_cast<unsigned long long>(t.sent),
                  static_cast<unsigned long long>(t.scheduled));
    out << line;
    if (rate_not_sustained(r)) {
      out << "WARNING: THE TARGET RATE WAS NOT SUSTAINED: the server (or this client) fell "
             "behind;\n"
             "         the corrected latencies include the time requests waited to be sent.\n";
    }
  }
}

}  // namespace iomodels::loadgen
