// The load generator's configuration, from the command line (SPEC §4).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace iomodels::loadgen {

struct Config {
  // Target.
  std::string url;  // as given, or built from --host/--port/--path
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string path = "/";
  std::string method = "GET";
  std::string body;
  std::vector<std::string> headers;  // "Name: value", as given with -H
  // The n of GET /bytes/{n}: responses are then checked byte by byte.
  std::optional<std::uint64_t> pattern_length;
  bool expect_no_body = false;  // HEAD: responses carry headers only

  // Load shape.
  int connections = 10;
  int threads = 1;
  std::int64_t duration_ns = 10'000'000'000;  // 0: no time limit (--requests alone)
  std::uint64_t requests = 0;                 // 0: run for the duration
  std::int64_t warmup_ns = 0;
  int pipeline = 1;
  std::uint64_t conn_requests = 0;  // reconnect after this many; 0 = never
  double connect_rate = 0;          // new connections/s at start; 0 = all at once
  double rate = 0;                  // requests/s in total; 0 = closed loop
  std::int64_t timeout_ns = 5'000'000'000;
  std::int64_t connect_timeout_ns = 2'000'000'000;
  std::vector<std::string> source_addrs;  // expanded, one address each

  // Several processes or hosts sharing one run (docs/multi-host.md): this is
  // shard shard_index of shard_count (1-based); connections, requests and
  // rate above are the totals over all shards.
  int shard_index = 1;
  int shard_count = 1;
  std::optional<double> start_at_unix_s;  // start barrier, on the reference clock
  std::optional<double> clock_offset_s;   // this host's clock minus the reference clock

  // --idle N: hold N idle keep-alive connections instead of a run.
  std::uint64_t idle = 0;
  std::int64_t idle_open_timeout_ns = 60'000'000'000;
  std::int64_t idle_answer_wait_ns = 2'000'000'000;
  bool duration_given = false;

  // Output.
  std::string json_path;
  bool quiet = false;
};

// What the command line asked for: a run, or a merge of earlier results.
struct CommandLine {
  Config config;
  std::vector<std::string> merge_inputs;  // non-empty: --merge mode
  std::string merge_output;               // --json with --merge
};

// Parses argv. Prints --help and exits 0; on a bad option prints why and
// exits 2 (SPEC §4), so callers get only valid configurations.
CommandLine parse_command_line(int argc, char** argv);

// "500ms", "10s", "2m", "1h", "250us", or a bare number of seconds, at most
// kMaxDurationNs. Throws std::invalid_argument when it is none of these.
std::int64_t parse_duration_ns(const std::string& text);
// Every time on the command line fits this, so start + warm-up + duration
// and every schedule computed from them stay far inside 64-bit nanoseconds.
constexpr std::int64_t kMaxDurationNs = 1'000'000LL * 1'000'000'000;  // 10^6 s, 11.6 days
constexpr double kMaxRate = 1e9;    // requests/s; above, a request per nanosecond
constexpr double kMinRate = 0.001;  // the schedule's resolution (requests per 1000 s)
constexpr std::uint64_t kMaxCount = 1'000'000'000'000'000;  // --requests, --conn-requests, --idle

// "2/4": shard 2 of 4. Throws std::invalid_argument otherwise.
std::pair<int, int> parse_shard(const std::string& text);

// "127.0.0.1-127.0.0.8" or "10.0.0.1,10.0.0.2": one string per address.
std::vector<std::string> expand_source_addrs(const std::string& text);

}  // namespace iomodels::loadgen
