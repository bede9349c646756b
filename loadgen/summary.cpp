// The human summary of a result, on stdout (wrk's layout where wrk has one).
#include <cstdio>

#include "loadgen/result.hpp"
#include "loadgen/result_keys.hpp"

namespace iomodels::loadgen {
namespace {

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

// A figure that is only a lower bound is printed "≥ 1.50s".
std::string bound_us(double us, bool lower_bound) {
  return (lower_bound ? "≥ " : "") + human_us(us);
}

unsigned long long ull(std::uint64_t v) {
  return static_cast<unsigned long long>(v);
}

// All measured requests (censored ones entered with their age) beside the
// answered ones alone.
void print_latency(std::ostream& out, const char* title, const CensoredHistogram& all,
                   const LatencyHistogram* answered) {
  char line[160];
  std::snprintf(line, sizeof line, "  %-44s %14s %14s\n", title, "all measured",
                answered ? "answered only" : "");
  out << line;
  const std::pair<const char*, double> points[] = {{"50%", 50}, {"75%", 75},     {"90%", 90},
                                                   {"99%", 99}, {"99.9%", 99.9}, {"99.99%", 99.99}};
  for (const auto& [label, p] : points) {
    std::snprintf(line, sizeof line, "    %-42s %14s %14s\n", label,
                  bound_us(all.all.percentile(p) / 1e3, all.percentile_is_lower_bound(p)).c_str(),
                  answered ? human_us(answered->percentile(p) / 1e3).c_str() : "");
    out << line;
  }
  struct Moment {
    const char* label;
    double all_ns;
    bool lower_bound;
    double answered_ns;
  };
  const Moment moments[] = {
      {"mean", all.all.mean(), all.mean_is_lower_bound(), answered ? answered->mean() : 0},
      {"stdev", all.all.stdev(), false, answered ? answered->stdev() : 0},
      {"max", static_cast<double>(all.all.max()), all.percentile_is_lower_bound(100),
       answered ? static_cast<double>(answered->max()) : 0}};
  for (const Moment& m : moments) {
    std::snprintf(line, sizeof line, "    %-42s %14s %14s\n", m.label,
                  bound_us(m.all_ns / 1e3, m.lower_bound).c_str(),
                  answered ? human_us(m.answered_ns / 1e3).c_str() : "");
    out << line;
  }
}

void print_outcomes(std::ostream& out, const Outcomes& o) {
  char line[256];
  std::snprintf(line, sizeof line,
                "  %llu measured requests: %llu answered 2xx, %llu answered otherwise, "
                "%llu failed, %llu timed out, %llu open at the end, %llu never sent\n",
                ull(o.measured()), ull(o.answered_2xx), ull(o.answered_other), ull(o.failed()),
                ull(o.timed_out), ull(o.open_at_end), ull(o.never_sent));
  out << line;
  if (o.failed() != 0) {
    out << "    failed:";
    for (const auto& f : kFailedOutcomes) {
      if (o.*(f.field) != 0) out << " " << f.key << " " << o.*(f.field);
    }
    out << "\n";
  }
}

void print_fairness(std::ostream& out, const Fairness& f) {
  if (f.connections == 0) return;
  const CensoredHistogram& h = f.first_answer;
  char line[256];
  std::snprintf(
      line, sizeof line,
      "  Connections answered at least once: %llu of %llu (%.1f%%); time to first "
      "answer p50 %s, p99 %s, max %s\n",
      ull(f.answered), ull(f.connections),
      100.0 * static_cast<double>(f.answered) / static_cast<double>(f.connections),
      bound_us(h.all.percentile(50) / 1e3, h.percentile_is_lower_bound(50)).c_str(),
      bound_us(h.all.percentile(99) / 1e3, h.percentile_is_lower_bound(99)).c_str(),
      bound_us(static_cast<double>(h.all.max()) / 1e3, h.percentile_is_lower_bound(100)).c_str());
  out << line;
}

}  // namespace

void print_summary(std::ostream& out, const RunResult& r) {
  const RunTotals& t = r.m.totals;
  const Outcomes& o = t.outcomes;
  print_latency(out, r.open_loop ? "Latency (corrected: from the scheduled send)" : "Latency",
                r.m.latency, &r.m.answered);
  if (r.open_loop)
    print_latency(out, "Latency (uncorrected: from the actual send)", r.m.uncorrected, nullptr);
  if (r.m.latency.censored.count() != 0) {
    out << "    (≥: a lower bound: " << r.m.latency.censored.count()
        << " requests got no answer and entered with their age)\n";
  }
  print_outcomes(out, o);
  print_fairness(out, r.m.fairness);
  char line[200];
  std::snprintf(line, sizeof line, "  %llu responses in %.2fs, %s read, %s written\n",
                ull(o.responses()), r.duration_s,
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
  if (t.errors.total() != 0) {
    out << "  Errors:\n";
    for (const auto& kind : kErrorKinds) {
      const std::uint64_t n = t.errors.*(kind.field);
      if (n == 0) continue;
      std::snprintf(line, sizeof line, "    %-16s %12llu   %s\n", kind.key, ull(n), kind.meaning);
      out << line;
    }
    if (!t.last_connect_error.empty())
      out << "    (last connect error: " << t.last_connect_error << ")\n";
  }
  std::snprintf(line, sizeof line, "Requests/sec: %12.2f\nGoodput/sec:  %12.2f   (2xx)\n",
                r.throughput_rps(), r.goodput_rps());
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
                  "Target rate: %.2f/s, achieved %.2f/s (%llu of %llu measured requests sent)\n",
                  r.target_rps, r.throughput_rps(), ull(o.measured() - o.never_sent),
                  ull(o.measured()));
    out << line;
    std::snprintf(line, sizeof line, "Send lag: p50 %s, p99 %s, max %s%s\n",
                  human_us(r.m.send_lag.percentile(50) / 1e3).c_str(),
                  human_us(r.m.send_lag.percentile(99) / 1e3).c_str(),
                  human_us(static_cast<double>(r.m.send_lag.max()) / 1e3).c_str(),
                  schedule_kept(r) ? "" : "  (SCHEDULE NOT KEPT)");
    out << line;
    if (rate_not_sustained(r)) {
      out << "WARNING: THE TARGET RATE WAS NOT SUSTAINED: the server (or this client) fell "
             "behind;\n"
             "         the corrected latencies include the time requests waited to be sent.\n";
    }
  }
}

}  // namespace iomodels::loadgen
