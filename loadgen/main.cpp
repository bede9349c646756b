// loadgen: an HTTP load generator for the iomodels servers (SPEC §4-§5).
// main() sets up and reports; the load itself is in worker.cpp.
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <system_error>
#include <thread>
#include <vector>

#include "loadgen/config.hpp"
#include "loadgen/connect.hpp"
#include "loadgen/idle.hpp"
#include "loadgen/result.hpp"
#include "loadgen/run_support.hpp"
#include "loadgen/worker.hpp"
#include "net/socket.hpp"

using namespace iomodels;
using namespace iomodels::loadgen;

namespace {

std::string format_rate(double rate) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", rate);
  return buf;
}

nlohmann::json config_json(const Config& c) {
  auto seconds = [](std::int64_t ns) { return static_cast<double>(ns) / 1e9; };
  nlohmann::json j = {
      {"url", c.url},
      {"host", c.host},
      {"port", c.port},
      {"path", c.path},
      {"method", c.method},
      {"body_bytes", c.body.size()},
      {"headers", c.headers},
      {"connections", c.connections},
      {"threads", c.threads},
      {"duration_s", c.duration_ns ? nlohmann::json(seconds(c.duration_ns)) : nlohmann::json()},
      {"requests", c.requests ? nlohmann::json(c.requests) : nlohmann::json()},
      {"warmup_s", seconds(c.warmup_ns)},
      {"rate", c.rate > 0 ? nlohmann::json(c.rate) : nlohmann::json()},
      {"mode", c.rate > 0 ? "open" : "closed"},
      {"pipeline", c.pipeline},
      {"conn_requests", c.conn_requests},
      {"connect_rate", c.connect_rate},
      {"timeout_s", seconds(c.timeout_ns)},
      {"connect_timeout_s", seconds(c.connect_timeout_ns)},
      {"source_addrs", c.source_addrs},
      {"start_at_unix_s",
       c.start_at_unix_s ? nlohmann::json(*c.start_at_unix_s) : nlohmann::json()},
      {"shards", c.shard_count}};
  return j;
}

int run_merge(const CommandLine& cl) {
  std::vector<RunResult> runs;
  for (const auto& path : cl.merge_inputs) {
    try {
      std::ifstream in(path);
      if (!in) throw std::runtime_error("cannot open");
      runs.push_back(result_from_json(nlohmann::json::parse(in)));
    } catch (const std::exception& e) {
      std::cerr << "loadgen: --merge: " << path << ": " << e.what() << "\n";
      return kExitCannotRun;
    }
  }
  RunResult merged;
  try {
    merged = merge_results(runs, cl.merge_inputs);
  } catch (const std::exception& e) {
    std::cerr << "loadgen: --merge: " << e.what() << "\n";
    return kExitCannotRun;
  }
  std::cout << "Merged " << merged.merged_from << " runs (" << cl.merge_inputs.size()
            << " files)\n";
  print_summary(std::cout, merged);
  if (!cl.merge_output.empty() && !write_json(cl.merge_output, to_json(merged)))
    return kExitCannotRun;
  return 0;
}

void print_progress(std::int64_t second, const TimelineSecond& last, std::uint64_t errors,
                    const LatencyHistogram& so_far) {
  // The last field is this second's median, for live displays (make demo):
  // the whole run's p50 is known only at the end.
  std::fprintf(stderr, "[%4llds] %10llu req/s  errors %llu  p99 so far %.1f us  p50 %.1f us\n",
               static_cast<long long>(second), static_cast<unsigned long long>(last.requests),
               static_cast<unsigned long long>(errors), so_far.percentile(99) / 1000.0,
               last.histogram.percentile(50) / 1000.0);
}

// One shard's (or the whole run's) part of a total: the first total % parts
// parts take one more.
std::uint64_t share(std::uint64_t total, std::uint64_t parts, std::uint64_t index0) {
  return total / parts + (index0 < total % parts ? 1 : 0);
}
std::uint64_t share_start(std::uint64_t total, std::uint64_t parts, std::uint64_t index0) {
  return index0 * (total / parts) + std::min(index0, total % parts);
}

// Why a completed run is not evidence, or "" (docs/loadgen.md).
std::string invalid_reason(const RunResult& r, std::int64_t close_ns, std::int64_t last_answer_ns,
                           std::int64_t oldest_waiting_ns) {
  const RunTotals& t = r.m.totals;
  const Outcomes& o = t.outcomes;
  if (o.responses() == 0) return "no response at all";
  if (t.slots_opened < t.slots) return "some connections never opened";
  // A server that died: its last second brought errors and not one response.
  const bool died = !r.timeline.empty() && r.timeline.rbegin()->second.requests == 0 &&
                    r.timeline.rbegin()->second.errors > 0;
  // A server that stopped answering near the end: requests were waiting at
  // the close, and neither an answer came nor had the oldest of them been
  // waiting for less than a stretch no healthy run of this one shows.
  const std::int64_t silence = close_ns - last_answer_ns;
  const double allowed_ns =
      std::max({2e8, 0.1 * r.duration_s * 1e9, 10 * r.m.answered.percentile(99)});
  const bool silent = static_cast<double>(silence) > allowed_ns &&
                      static_cast<double>(oldest_waiting_ns) > allowed_ns;
  if (died || silent) {
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "the target stopped answering (no answer in the last %.3f s of the window; "
                  "%llu requests open at the end, %llu never sent)",
                  silence / 1e9, static_cast<unsigned long long>(o.open_at_end),
                  static_cast<unsigned long long>(o.never_sent));
    return buf;
  }
  const double lost = static_cast<double>(o.failed() - o.failed_body + o.timed_out);
  const double attempts = static_cast<double>(o.responses()) + lost;
  if (static_cast<double>(t.errors.total()) > 0.01 * std::max(1.0, attempts))
    return "more than 1% of the requests failed";
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  ignore_sigpipe();
  const CommandLine cl = parse_command_line(argc, argv);
  if (!cl.merge_inputs.empty()) return run_merge(cl);
  const Config& config = cl.config;
  if (config.idle > 0) return run_idle(config);

  // This process's part of the run: shard i of N takes its share of the
  // connections (numbered globally, so the open-loop schedule is the whole
  // run's) and of --requests.
  const auto shards = static_cast<std::uint64_t>(config.shard_count);
  const auto shard0 = static_cast<std::uint64_t>(config.shard_index - 1);
  const auto all_connections = static_cast<std::uint64_t>(config.connections);
  const std::uint64_t connections = share(all_connections, shards, shard0);
  const std::uint64_t first_connection = share_start(all_connections, shards, shard0);
  if (!fd_limit_fits(connections, config.threads)) return kExitCannotRun;

  auto plan = std::make_unique<Plan>();
  plan->config = &config;
  try {
    plan->target.len = resolve(config.host, config.port, plan->target.addr);
    for (const auto& source : config.source_addrs) {
      Address a;
      a.len = resolve(source, 0, a.addr);
      if (a.addr.ss_family != plan->target.addr.ss_family) {
        throw std::runtime_error("source address " + source + " is not of the target's family");
      }
      plan->sources.push_back(a);
    }
  } catch (const std::exception& e) {
    std::cerr << "loadgen: " << e.what() << "\n";
    return kExitCannotRun;
  }
  const std::string request = build_request(config);
  plan->request_len = request.size();
  for (int i = 0; i < config.pipeline; ++i) plan->batch += request;

  const sigset_t signals = stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // The two clocks, read together once: the window is planned on the
  // monotonic one (shared by every process of the machine) and reported on
  // both.
  const std::int64_t mono_now = now_ns();
  const double unix_now = unix_now_s();
  const auto to_unix = [&](std::int64_t mono) { return unix_now + (mono - mono_now) / 1e9; };
  plan->start_ns = mono_now;
  if (config.start_at_unix_s) {
    // The barrier is on the reference clock; this host's clock reads it
    // offset later.
    const double local = *config.start_at_unix_s + config.clock_offset_s.value_or(0.0);
    plan->start_ns = mono_now + static_cast<std::int64_t>((local - unix_now) * 1e9);
  }
  plan->measure_start_ns = plan->start_ns + config.warmup_ns;
  if (config.duration_ns > 0) plan->end_ns = plan->measure_start_ns + config.duration_ns;
  plan->all_connections = all_connections;
  plan->rate_milli =
      config.rate > 0 ? static_cast<std::uint64_t>(std::llround(config.rate * 1000)) : 0;

  std::uint64_t open_loop_limit = UINT64_MAX;
  if (plan->rate_milli > 0 && config.requests > 0) {
    // The measured requests are the first --requests of the whole schedule
    // due at or after the window opens, on whichever shard.
    const OpenLoopSchedule whole(plan->start_ns, plan->rate_milli, all_connections, 0,
                                 all_connections);
    open_loop_limit = whole.first_global_at_or_after(plan->measure_start_ns) + config.requests;
  }
  const std::uint64_t requests = share(config.requests, shards, shard0);
  std::vector<std::unique_ptr<Worker>> workers;
  const auto threads = static_cast<std::uint64_t>(config.threads);
  for (std::uint64_t t = 0; t < threads; ++t) {
    const std::uint64_t slots = share(connections, threads, t);
    std::uint64_t quota = UINT64_MAX;
    if (plan->rate_milli > 0) {
      quota = open_loop_limit;
    } else if (config.requests > 0) {
      quota = share(requests, threads, t);
    }
    workers.push_back(
        std::make_unique<Worker>(*plan, static_cast<int>(slots),
                                 first_connection + share_start(connections, threads, t), quota));
  }

  std::cout << "Running "
            << (config.duration_ns ? std::to_string(config.duration_ns / 1'000'000) + "ms"
                                   : std::to_string(config.requests) + "-request")
            << " test @ " << config.url << "\n  " << config.threads << " threads and "
            << connections << " connections, "
            << (config.rate > 0 ? "open loop at " + format_rate(config.rate) + " requests/s"
                                : std::string("closed loop"))
            << (config.pipeline > 1 ? ", pipeline " + std::to_string(config.pipeline) : "")
            << (shards > 1 ? ", shard " + std::to_string(config.shard_index) + "/" +
                                 std::to_string(shards) + " of " + std::to_string(all_connections) +
                                 " connections"
                           : "")
            << "\n";
  // For a harness that reads its own counters at exactly the window's edges.
  std::cout << "window monotonic_ns " << plan->measure_start_ns << " "
            << (plan->end_ns == INT64_MAX ? std::string("open") : std::to_string(plan->end_ns))
            << "\n"
            << std::flush;
  if (!wait_until(plan->start_ns, signals)) {
    std::cerr << "loadgen: stopped by a signal before the start (--start-at); nothing ran\n";
    return kExitCannotRun;
  }

  std::vector<std::jthread> threads_running;
  for (auto& w : workers) threads_running.emplace_back([&w] { w->run(); });

  RunResult result;
  LatencyHistogram so_far;
  std::uint64_t errors_so_far = 0;
  bool interrupted = false;
  std::int64_t next_report = plan->start_ns + 1'000'000'000;
  // A second is shown once every worker has handed it over.
  std::vector<std::int64_t> handed_over(workers.size(), -1);
  std::int64_t shown = -1;
  for (;;) {
    bool all_done = true;
    for (auto& w : workers) all_done = all_done && w->done();
    for (std::size_t i = 0; i < workers.size(); ++i) {
      for (auto& [second, s] : workers[i]->take_seconds()) {
        handed_over[i] = std::max<std::int64_t>(handed_over[i], second);
        TimelineSecond& into = result.timeline[second];
        into.requests += s.requests;
        into.errors += s.errors;
        into.histogram.merge(s.histogram);
        so_far.merge(s.histogram);
        errors_so_far += s.errors;
      }
    }
    if (all_done) break;
    const std::int64_t now = now_ns();
    const std::int64_t complete = *std::min_element(handed_over.begin(), handed_over.end());
    if (!config.quiet && complete > shown) {
      shown = complete;
      print_progress(shown + 1, result.timeline[static_cast<std::uint32_t>(shown)], errors_so_far,
                     so_far);
    }
    if (now >= next_report) {
      next_report += 1'000'000'000;
      if (!config.quiet && now < plan->measure_start_ns) {
        std::fprintf(stderr, "[warm-up] %.0f s left\n", (plan->measure_start_ns - now) / 1e9);
      }
    }
    // Wake for the next progress line, a signal, or (every 50 ms) to notice
    // that the workers are done.
    const std::int64_t wait =
        std::min<std::int64_t>(50'000'000, std::max<std::int64_t>(0, next_report - now));
    const timespec timeout{0, wait};
    const int sig = sigtimedwait(&signals, nullptr, &timeout);
    if (sig == SIGINT || sig == SIGTERM) {
      if (!interrupted)
        std::cerr << "\nloadgen: stopping early (signal " << sig << "); results so far follow\n";
      interrupted = true;
      plan->stop.store(true);
    }
  }
  threads_running.clear();  // join

  std::int64_t finished = plan->measure_start_ns;
  std::int64_t last_answer = plan->measure_start_ns, oldest_waiting = 0;
  for (auto& w : workers) {
    result.m.add(w->measurements());
    finished = std::max(finished, w->finished_ns());
    last_answer = std::max(last_answer, w->last_answer_ns());
    oldest_waiting = std::max(oldest_waiting, w->oldest_waiting_ns());
  }
  const std::int64_t measured_end = std::min(finished, plan->end_ns);
  result.config = config_json(config);
  result.config["interrupted"] = interrupted;
  result.open_loop = config.rate > 0;
  result.target_rps = config.rate;
  result.host = host_name();
  if (shards > 1) {
    result.shard = ShardInfo{config.shard_index, config.shard_count, connections, first_connection};
  }
  result.clock_offset_s = config.clock_offset_s;
  result.window = {to_unix(plan->measure_start_ns), to_unix(measured_end), plan->measure_start_ns,
                   measured_end};
  result.duration_s = std::max<std::int64_t>(0, measured_end - plan->measure_start_ns) / 1e9;
  result.invalid_reason = invalid_reason(result, measured_end, last_answer, oldest_waiting);

  print_summary(std::cout, result);
  std::cout << std::flush;
  if (!config.json_path.empty() && !write_json(config.json_path, to_json(result)))
    return kExitCannotRun;
  if (!result.invalid_reason.empty()) {
    std::cerr << "loadgen: the run is INVALID: " << result.invalid_reason << " (exit status 3)\n";
    return kExitInvalidRun;
  }
  return 0;
}
