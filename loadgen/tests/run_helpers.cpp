#include "loadgen/tests/run_helpers.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "loadgen/latency_histogram.hpp"

namespace iomodels::loadgen::testing {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TempDir::TempDir() {
  char pattern[] = "/tmp/loadgen-test-XXXXXX";
  path_ = mkdtemp(pattern);
}

TempDir::~TempDir() {
  std::system(("rm -rf " + path_).c_str());
}

Output run(const std::string& program, std::vector<std::string> args, std::optional<rlim_t> nofile,
           std::optional<rlim_t> stack) {
  TempDir dir;
  const std::string out_path = dir.file("out"), err_path = dir.file("err");
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec: this process has threads.
    if (nofile) {
      rlimit l{*nofile, *nofile};
      setrlimit(RLIMIT_NOFILE, &l);
    }
    if (stack) {
      rlimit l{*stack, *stack};
      setrlimit(RLIMIT_STACK, &l);
    }
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, 1);
    dup2(err, 2);
    execv(program.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  Output o;
  o.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  o.out = slurp(out_path);
  o.err = slurp(err_path);
  return o;
}

Output loadgen(std::vector<std::string> args, std::optional<rlim_t> nofile,
               std::optional<rlim_t> stack) {
  TempDir dir;
  const std::string json_path = dir.file("result.json");
  args.insert(args.begin(), {"--quiet", "--json", json_path});
  Output o = run(LOADGEN_PATH, args, nofile, stack);
  const std::string text = slurp(json_path);
  if (!text.empty()) o.result = json::parse(text);
  return o;
}

std::string url(std::uint16_t port, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(port) + path;
}

std::uint64_t u(const json& j, const char* key) {
  return j.at(key).get<std::uint64_t>();
}

void expect_consistent(const json& r) {
  EXPECT_EQ(u(r, "sent"), u(r, "requests") + u(r, "failed") + u(r, "unfinished")) << r.dump();
  std::uint64_t by_status = 0, timeline_requests = 0, timeline_errors = 0;
  for (const auto& [code, n] : r["status"].items()) by_status += n.get<std::uint64_t>();
  EXPECT_EQ(by_status, u(r, "requests"));
  for (const auto& t : r["timeline"]) {
    timeline_requests += u(t, "requests");
    timeline_errors += u(t, "errors");
  }
  EXPECT_EQ(timeline_requests, u(r, "requests"));
  EXPECT_EQ(timeline_errors, u(r["errors"], "total"));
  // Every measured request has exactly one outcome, and one value in the
  // histogram: its latency, or (no answer) its age as a lower bound.
  const json& o = r["outcomes"];
  std::uint64_t failed = 0;
  for (const char* k : {"read", "reset", "write", "parse", "body"}) failed += u(o["failed"], k);
  EXPECT_EQ(u(o, "measured"), u(o, "answered_2xx") + u(o, "answered_other") + failed +
                                  u(o, "timed_out") + u(o, "open_at_end") + u(o, "never_sent"))
      << o.dump();
  EXPECT_EQ(u(r["histogram"], "count"), u(o, "measured"));
  EXPECT_EQ(u(r["histogram_answered"], "count"), u(r, "requests"));
  EXPECT_EQ(u(r, "requests"),
            u(o, "answered_2xx") + u(o, "answered_other") + u(o["failed"], "body"));
  EXPECT_EQ(u(r["histogram_censored"], "count"), u(o, "measured") - u(r, "requests"));
  EXPECT_EQ(u(r, "sent"), u(o, "measured") - u(o, "never_sent"));
  if (u(r["histogram_censored"], "count") == 0) {
    for (const auto& [k, v] : r["latency_us"]["lower_bound"].items())
      EXPECT_FALSE(v.get<bool>()) << k;
  } else {
    EXPECT_TRUE(r["latency_us"]["lower_bound"]["max"].get<bool>());
    EXPECT_TRUE(r["latency_us"]["lower_bound"]["mean"].get<bool>());
  }
  const json& f = r["fairness"];
  EXPECT_LE(u(f, "answered"), u(f, "connections"));
  EXPECT_EQ(u(f["histogram"], "count"), u(f, "connections"));
  EXPECT_EQ(u(f["histogram_censored"], "count"), u(f, "connections") - u(f, "answered"));
  EXPECT_EQ(r["format_version"], 2);
  const json& w = r["window"];
  EXPECT_LE(w["start_monotonic_ns"].get<std::int64_t>(), w["end_monotonic_ns"].get<std::int64_t>());
  std::uint64_t kinds = 0;
  for (const char* k : {"connect_refused", "connect_timeout", "connect_reset", "connect_other",
                        "read", "reset", "write", "timeout", "status", "parse", "body"}) {
    kinds += u(r["errors"], k);
  }
  EXPECT_EQ(kinds, u(r["errors"], "total"));
  for (const char* key : {"config", "duration_s", "throughput_rps", "goodput_rps", "latency_us",
                          "latency_answered_us", "histogram", "timeline", "invalid_reason"}) {
    EXPECT_TRUE(r.contains(key)) << key;
  }
  for (const char* key : {"p50", "p75", "p90", "p99", "p99_9", "p99_99", "max", "mean", "stdev"}) {
    EXPECT_TRUE(r["latency_us"].contains(key)) << key;
  }
}

std::vector<Output> side_by_side(const std::vector<std::vector<std::string>>& runs) {
  std::vector<Output> outs(runs.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < runs.size(); ++i)
    threads.emplace_back([&, i] { outs[i] = loadgen(runs[i]); });
  for (auto& t : threads) t.join();
  return outs;
}

Output merge(const TempDir& dir, const std::vector<json>& parts) {
  std::vector<std::string> args{"--merge"};
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string path = dir.file("part" + std::to_string(i) + ".json");
    std::ofstream(path) << parts[i].dump();
    args.push_back(path);
  }
  args.insert(args.end(), {"--json", dir.file("merged.json")});
  Output m = run(LOADGEN_PATH, args);
  const std::string text = slurp(dir.file("merged.json"));
  if (!text.empty()) m.result = json::parse(text);
  return m;
}

void expect_merged_is_sum(const json& m, const std::vector<json>& parts) {
  expect_consistent(m);
  for (const char* key : {"histogram", "histogram_censored", "histogram_answered"}) {
    LatencyHistogram sum;
    for (const auto& p : parts) sum.merge(LatencyHistogram::from_json(p[key]));
    EXPECT_EQ(LatencyHistogram::from_json(m[key]), sum) << key;
  }
  for (const char* key : {"histogram", "histogram_censored"}) {
    LatencyHistogram sum;
    for (const auto& p : parts) sum.merge(LatencyHistogram::from_json(p["fairness"][key]));
    EXPECT_EQ(LatencyHistogram::from_json(m["fairness"][key]), sum) << key;
  }
  json outcomes = parts[0]["outcomes"];
  std::uint64_t requests = 0, connections = 0, answered = 0;
  double start = 1e300, end = 0;
  for (const auto& p : parts) {
    requests += u(p, "requests");
    connections += u(p["fairness"], "connections");
    answered += u(p["fairness"], "answered");
    start = std::min(start, p["window"]["start_unix_s"].get<double>());
    end = std::max(end, p["window"]["end_unix_s"].get<double>());
  }
  for (const char* k :
       {"measured", "answered_2xx", "answered_other", "timed_out", "open_at_end", "never_sent"}) {
    std::uint64_t sum = 0;
    for (const auto& p : parts) sum += u(p["outcomes"], k);
    EXPECT_EQ(u(m["outcomes"], k), sum) << k;
  }
  EXPECT_EQ(u(m, "requests"), requests);
  EXPECT_EQ(u(m["fairness"], "connections"), connections);
  EXPECT_EQ(u(m["fairness"], "answered"), answered);
  EXPECT_DOUBLE_EQ(m["duration_s"].get<double>(), end - start);
  EXPECT_DOUBLE_EQ(m["throughput_rps"].get<double>(), requests / (end - start));
  EXPECT_EQ(u(m, "merged_from"), parts.size());
  // The flags are recomputed from the summed histograms, not copied.
  const json flags = m["latency_us"]["lower_bound"];
  EXPECT_EQ(flags["max"].get<bool>(), u(m["histogram_censored"], "count") > 0);
}

}  // namespace iomodels::loadgen::testing
