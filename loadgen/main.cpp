// loadgen: an HTTP load generator for the iomodels servers (SPEC §4-§5).
// main() sets up and reports; the load itself is in worker.cpp.
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>

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
#include "loadgen/result.hpp"
#include "loadgen/worker.hpp"
#include "net/socket.hpp"

using namespace iomodels;
using namespace iomodels::loadgen;

namespace {

constexpr int kExitCannotRun = 1;
constexpr int kExitInvalidRun = 3;
// Descriptors besides the connections: stdio, one epoll per thread, the JSON
// file, a few for the C++ runtime.
constexpr std::uint64_t kSpareFds = 16;

std::string build_request(const Config& c) {
  std::string r = c.method + " " + c.path + " HTTP/1.1\r\n";
  bool has_host = false;
  for (const auto& h : c.headers) {
    if (h.size() >= 5 && strncasecmp(h.c_str(), "host:", 5) == 0) has_host = true;
  }
  if (!has_host) r += "Host: " + c.host + ":" + std::to_string(c.port) + "\r\n";
  for (const auto& h : c.headers) r += h + "\r\n";
  if (!c.body.empty() || c.method == "POST")
    r += "Content-Length: " + std::to_string(c.body.size()) + "\r\n";
  r += "\r\n";
  r += c.body;
  return r;
}

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
      {"source_addrs", c.source_addrs}};
  return j;
}

bool write_json(const std::string& path, const nlohmann::json& j) {
  std::ofstream out(path);
  out << j.dump(1) << "\n";
  out.close();
  if (!out) {
    std::cerr << "loadgen: cannot write " << path << "\n";
    return false;
  }
  return true;
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
  const RunResult merged = merge_results(runs);
  std::cout << "Merged " << merged.merged_from << " runs (" << cl.merge_inputs.size()
            << " files)\n";
  print_summary(std::cout, merged);
  if (!cl.merge_output.empty() && !write_json(cl.merge_output, to_json(merged)))
    return kExitCannotRun;
  return 0;
}

// Ctrl-C and SIGTERM are taken by sigtimedwait() in the main thread only:
// blocked before the workers start, so they inherit the mask and never see
// them; the main thread then tells the workers to stop and writes results.
sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
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

}  // namespace

int main(int argc, char** argv) {
  ignore_sigpipe();
  const CommandLine cl = parse_command_line(argc, argv);
  if (!cl.merge_inputs.empty()) return run_merge(cl);
  const Config& config = cl.config;

  const FdLimit limit = raise_fd_limit();
  const std::uint64_t needed =
      static_cast<std::uint64_t>(config.connections) + config.threads + kSpareFds;
  if (needed > limit.soft) {
    std::cerr << "loadgen: " << config.connections << " connections need about " << needed
              << " file descriptors, but this process may open only " << limit.soft
              << " (RLIMIT_NOFILE soft " << limit.soft << ", hard " << limit.hard << ").\n"
              << "Please raise ulimit -n (e.g. `ulimit -n " << needed
              << "`), or, past the hard limit,\n"
              << "run several loadgen processes with fewer connections and combine their\n"
              << "--json files with `loadgen --merge`.\n";
    return kExitCannotRun;
  }

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

  const auto wall_start = std::chrono::system_clock::now();
  plan->start_ns = now_ns();
  plan->measure_start_ns = plan->start_ns + config.warmup_ns;
  if (config.duration_ns > 0) plan->end_ns = plan->measure_start_ns + config.duration_ns;

  std::vector<std::unique_ptr<Worker>> workers;
  int first_slot = 0;
  for (int t = 0; t < config.threads; ++t) {
    const int slots =
        config.connections / config.threads + (t < config.connections % config.threads);
    std::uint64_t quota = UINT64_MAX;
    if (config.requests > 0) {
      quota = config.requests / config.threads +
              (static_cast<std::uint64_t>(t) < config.requests % config.threads);
    }
    // Each connection gets the same share of the rate, whichever thread owns it.
    const double rate = config.rate * slots / config.connections;
    workers.push_back(std::make_unique<Worker>(*plan, slots, first_slot, quota, rate));
    first_slot += slots;
  }

  std::cout << "Running "
            << (config.duration_ns ? std::to_string(config.duration_ns / 1'000'000) + "ms"
                                   : std::to_string(config.requests) + "-request")
            << " test @ " << config.url << "\n  " << config.threads << " threads and "
            << config.connections << " connections, "
            << (config.rate > 0 ? "open loop at " + format_rate(config.rate) + " requests/s"
                                : std::string("closed loop"))
            << (config.pipeline > 1 ? ", pipeline " + std::to_string(config.pipeline) : "") << "\n"
            << std::flush;

  std::vector<std::jthread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->run(); });

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
  threads.clear();  // join

  std::int64_t finished = plan->measure_start_ns;
  for (auto& w : workers) {
    result.totals.add(w->totals());
    result.corrected.merge(w->corrected());
    result.uncorrected.merge(w->uncorrected());
    finished = std::max(finished, w->finished_ns());
  }
  const std::int64_t measured_end = std::min(finished, plan->end_ns);
  result.config = config_json(config);
  result.config["interrupted"] = interrupted;
  result.open_loop = config.rate > 0;
  result.target_rps = config.rate;
  result.start_unix_s =
      std::chrono::duration<double>(wall_start.time_since_epoch()).count() + config.warmup_ns / 1e9;
  result.duration_s = std::max<std::int64_t>(0, measured_end - plan->measure_start_ns) / 1e9;
  result.throughput_rps = result.duration_s > 0 ? result.totals.requests / result.duration_s : 0;

  print_summary(std::cout, result);
  std::cout << std::flush;
  if (!config.json_path.empty() && !write_json(config.json_path, to_json(result)))
    return kExitCannotRun;

  const RunTotals& t = result.totals;
  const double attempts = static_cast<double>(t.requests + t.failed);
  // A server that died mid-run: its last second brought errors and not one
  // response. After a long healthy run the reconnect attempts (with
  // back-off) stay under 1% of the requests, so the share alone misses it.
  const bool stopped_answering = !result.timeline.empty() &&
                                 result.timeline.rbegin()->second.requests == 0 &&
                                 result.timeline.rbegin()->second.errors > 0;
  const char* invalid = t.requests == 0            ? "no response at all"
                        : t.slots_opened < t.slots ? "some connections never opened"
                        : stopped_answering        ? "the target stopped answering"
                        : static_cast<double>(t.errors.total()) > 0.01 * std::max(1.0, attempts)
                            ? "more than 1% of the requests failed"
                            : nullptr;
  if (invalid != nullptr) {
    std::cerr << "loadgen: the run is INVALID: " << invalid << " (exit status 3)\n";
    return kExitInvalidRun;
  }
  return 0;
}
