// Command-line parsing for loadgen (Boost.Program_options).
#include <arpa/inet.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <tuple>

#include "loadgen/config.hpp"

namespace po = boost::program_options;

namespace iomodels::loadgen {
namespace {

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "loadgen: " << message << "\n(see loadgen --help)\n";
  std::exit(2);
}

// http://HOST[:PORT][/PATH]; HOST may be [v6]. Only plain http: this is a
// loopback benchmark tool, not a browser.
void apply_url(const std::string& url, Config& c) {
  const std::string scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0)
    usage_error("URL must start with http://: " + url);
  std::string rest = url.substr(scheme.size());
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  c.path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string::npos) usage_error("bad IPv6 host in URL: " + url);
    c.host = authority.substr(0, close + 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') usage_error("bad URL: " + url);
      port = authority.substr(close + 2);
    }
  } else {
    const auto colon = authority.find(':');
    c.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (c.host.empty()) usage_error("no host in URL: " + url);
  if (!port.empty()) {
    char* end = nullptr;
    const long p = std::strtol(port.c_str(), &end, 10);
    if (*end != '\0' || p < 1 || p > 65535) usage_error("bad port in URL: " + url);
    c.port = static_cast<std::uint16_t>(p);
  } else {
    c.port = 80;
  }
}

std::optional<std::uint64_t> pattern_length_of(const std::string& path) {
  const std::string prefix = "/bytes/";
  if (path.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  const std::string digits = path.substr(prefix.size());
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoull(digits);
}

// A count given as digits: boost would read "-1" as 2^64 - 1.
std::uint64_t parse_count(const char* option, const std::string& text) {
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos)
    usage_error(std::string(option) + " must be a whole number, not '" + text + "'");
  const std::uint64_t n = std::stoull(text);
  if (n > kMaxCount) {
    usage_error(std::string(option) + " " + text + " is too large (at most " +
                std::to_string(kMaxCount) + ")");
  }
  return n;
}

double parse_rate(const char* option, double rate) {
  if (!std::isfinite(rate) || rate < kMinRate || rate > kMaxRate) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s must be between %g and %g requests/s", option, kMinRate,
                  kMaxRate);
    usage_error(buf);
  }
  return rate;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::pair<int, int> parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  const std::string a = text.substr(0, slash);
  const std::string b = slash == std::string::npos ? "" : text.substr(slash + 1);
  const auto digits = [](const std::string& x) {
    return !x.empty() && x.size() <= 6 && x.find_first_not_of("0123456789") == std::string::npos;
  };
  if (!digits(a) || !digits(b)) {
    throw std::invalid_argument("bad --shard '" + text + "' (write 2/4: shard 2 of 4)");
  }
  const int i = std::stoi(a), n = std::stoi(b);
  if (n < 1 || i < 1 || i > n) {
    throw std::invalid_argument("bad --shard '" + text + "': shards are numbered 1.." +
                                std::to_string(std::max(n, 1)));
  }
  return {i, n};
}

std::int64_t parse_duration_ns(const std::string& text) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    throw std::invalid_argument("bad duration '" + text + "' (write 500ms, 10s, 2m)");
  }
  const std::string unit = text.substr(used);
  double scale = 0;
  if (unit.empty() || unit == "s")
    scale = 1e9;
  else if (unit == "ms")
    scale = 1e6;
  else if (unit == "us")
    scale = 1e3;
  else if (unit == "m")
    scale = 60e9;
  else if (unit == "h")
    scale = 3600e9;
  if (scale == 0 || !(value >= 0)) {
    throw std::invalid_argument("bad duration '" + text + "' (write 500ms, 10s, 2m)");
  }
  const double ns = value * scale;
  if (!(ns <= static_cast<double>(kMaxDurationNs))) {
    throw std::invalid_argument("duration '" + text +
                                "' is too long (at most 1000000s, 11.6 days)");
  }
  return static_cast<std::int64_t>(ns);
}

std::vector<std::string> expand_source_addrs(const std::string& text) {
  std::vector<std::string> out;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const auto comma = text.find(',', begin);
    const std::string item = text.substr(begin, comma - begin);
    begin = comma == std::string::npos ? text.size() + 1 : comma + 1;
    if (item.empty()) continue;
    const auto dash = item.find('-');
    if (dash == std::string::npos) {
      out.push_back(item);
      continue;
    }
    in_addr first{}, last{};
    if (inet_pton(AF_INET, item.substr(0, dash).c_str(), &first) != 1 ||
        inet_pton(AF_INET, item.substr(dash + 1).c_str(), &last) != 1) {
      throw std::invalid_argument("bad address range '" + item + "' (write 127.0.0.1-127.0.0.8)");
    }
    const std::uint32_t a = ntohl(first.s_addr), b = ntohl(last.s_addr);
    if (b < a || b - a > 65535) throw std::invalid_argument("bad address range '" + item + "'");
    for (std::uint32_t v = a; v <= b; ++v) {
      in_addr addr{htonl(v)};
      char buf[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &addr, buf, sizeof buf);
      out.emplace_back(buf);
    }
  }
  return out;
}

CommandLine parse_command_line(int argc, char** argv) {
  CommandLine cl;
  Config& c = cl.config;
  std::string duration, warmup, timeout, connect_timeout, sources, url;
  std::string host, path, requests, conn_requests, shard, idle, idle_timeout, idle_answer_wait;
  double start_at = 0, clock_offset = 0;
  int port = -1;
  bool merge = false;
  po::options_description opts(
      "Usage: loadgen [options] URL          e.g. loadgen -c 100 -d 10s "
      "http://127.0.0.1:8080/hello\n"
      "       loadgen --merge A.json B.json ... [--json OUT]\n"
      "       loadgen --idle N [options] URL   (hold N idle keep-alive connections)\n\n"
      "Without --rate: closed loop (each connection sends its next request when the\n"
      "previous answer arrived, as wrk does). With --rate R: open loop, R requests/s\n"
      "on a fixed schedule, latency measured from the scheduled send time.\n\n"
      "Options");
  // clang-format off
  opts.add_options()
    ("help,h", "this help")
    ("url", po::value(&url), "target, http://HOST[:PORT][/PATH] (or positional)")
    ("host", po::value(&host), "target host, instead of a URL (default 127.0.0.1)")
    ("port", po::value(&port), "target port, instead of a URL (default 8080)")
    ("path", po::value(&path), "target path, instead of a URL (default /)")
    ("method,m", po::value(&c.method), "request method (default GET; POST with --body)")
    ("body,b", po::value(&c.body), "request body; implies POST unless --method says otherwise")
    ("header,H", po::value(&c.headers), "extra header \"Name: value\" (repeatable)")
    ("connections,c", po::value(&c.connections)->default_value(10), "connections kept open")
    ("threads,t", po::value(&c.threads)->default_value(1), "threads, each an epoll loop owning connections/threads")
    ("duration,d", po::value(&duration), "measured time, e.g. 10s (default 10s unless --requests)")
    ("requests,n", po::value(&requests), "measured requests to send in total, then stop")
    ("warmup,w", po::value(&warmup)->default_value("0s"), "time before the measurement starts (excluded)")
    ("pipeline,p", po::value(&c.pipeline)->default_value(1), "requests in flight per connection")
    ("conn-requests", po::value(&conn_requests)->default_value("0"), "reconnect after this many requests (0 = never)")
    ("connect-rate", po::value(&c.connect_rate)->default_value(0), "open at most this many connections/s at start (0 = at once)")
    ("rate,R", po::value(&c.rate), "open loop: total requests/s, scheduled at a constant rate")
    ("timeout", po::value(&timeout)->default_value("5s"), "request timeout (from the actual send)")
    ("connect-timeout", po::value(&connect_timeout)->default_value("2s"), "connect timeout")
    ("source-addrs", po::value(&sources), "spread connections over local addresses, e.g. 127.0.0.1-127.0.0.8")
    ("shard", po::value(&shard), "I/N: be shard I of N processes or hosts sharing the run: -c, -n and -R are the totals, this one takes its part (docs/multi-host.md)")
    ("start-at", po::value(&start_at), "UNIX_TIME (seconds, fractional): start the run then, so all shards measure the same window")
    ("clock-offset", po::value(&clock_offset), "SECONDS this host's clock is ahead of the reference clock (as measured by the orchestrator); applied to --start-at, recorded")
    ("idle", po::value(&idle), "N: open N keep-alive connections, one request each, print 'holding N answered M', then hold them silent until SIGTERM/SIGINT or -d ends")
    ("idle-timeout", po::value(&idle_timeout)->default_value("60s"), "--idle: time allowed to open them all")
    ("idle-answer-wait", po::value(&idle_answer_wait)->default_value("2s"), "--idle: time to wait for the answers once all are open")
    ("json", po::value(&c.json_path), "write the results (SPEC §5) to this file")
    ("quiet,q", po::bool_switch(&c.quiet), "no progress line on stderr")
    ("merge", po::bool_switch(&merge), "combine the JSON files given as arguments into one result");
  // clang-format on
  po::options_description hidden;
  hidden.add_options()("positional", po::value<std::vector<std::string>>(), "");
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description positional;
  positional.add("positional", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    usage_error(e.what());
  }
  if (vm.count("help")) {
    std::cout << opts
              << "\nExit status: 0 ok; 1 could not run (fd limit, target does not\n"
                 "resolve, results not writable, --merge inputs unreadable or not of\n"
                 "one run); 2 bad options; 3 the run completed but is invalid (see\n"
                 "docs/loadgen.md): no response at all, a connection never opened, the\n"
                 "target stopped answering, or over 1% of requests failed; --idle: not\n"
                 "all connections held and answered.\n";
    std::exit(0);
  }
  std::vector<std::string> args;
  if (vm.count("positional")) args = vm["positional"].as<std::vector<std::string>>();

  if (merge) {
    if (args.empty()) usage_error("--merge needs the JSON files to combine");
    cl.merge_inputs = args;
    cl.merge_output = c.json_path;
    return cl;
  }

  if (args.size() > 1)
    usage_error("one URL only, got " + std::to_string(args.size()) + " arguments");
  if (args.size() == 1) {
    if (!url.empty()) usage_error("URL given twice");
    url = args[0];
  }
  if (!url.empty()) {
    if (!host.empty() || port >= 0 || !path.empty())
      usage_error("give a URL or --host/--port/--path, not both");
    apply_url(url, c);
    c.url = url;
  } else {
    if (host.empty() && port < 0 && path.empty())
      usage_error("no target: give a URL such as http://127.0.0.1:8080/hello");
    if (!host.empty()) c.host = host;
    if (port >= 0) {
      if (port < 1 || port > 65535) usage_error("--port must be 1..65535");
      c.port = static_cast<std::uint16_t>(port);
    }
    if (!path.empty()) c.path = path;
    if (c.path.front() != '/') usage_error("--path must start with /");
    c.url = "http://" + c.host + ":" + std::to_string(c.port) + c.path;
  }
  if (vm.count("body") && !vm.count("method")) c.method = "POST";
  for (const auto& h : c.headers) {
    if (h.find(':') == std::string::npos || h.find_first_of("\r\n") != std::string::npos) {
      usage_error("bad header '" + h + "' (write -H 'Name: value')");
    }
  }
  if (c.method.empty() || c.method.find_first_of(" \r\n") != std::string::npos)
    usage_error("bad --method");
  if (c.method == "GET") c.pattern_length = pattern_length_of(c.path);
  c.expect_no_body = c.method == "HEAD";

  if (c.connections < 1) usage_error("--connections must be at least 1");
  if (c.threads < 1) usage_error("--threads must be at least 1");
  if (c.threads > c.connections) usage_error("--threads must not exceed --connections");
  if (c.pipeline < 1 || c.pipeline > 1024) usage_error("--pipeline must be 1..1024");
  if (c.connect_rate != 0) parse_rate("--connect-rate", c.connect_rate);
  if (vm.count("rate")) parse_rate("--rate", c.rate);
  if (!requests.empty()) c.requests = parse_count("--requests", requests);
  c.conn_requests = parse_count("--conn-requests", conn_requests);
  try {
    if (!shard.empty()) std::tie(c.shard_index, c.shard_count) = parse_shard(shard);
    c.duration_given = !duration.empty();
    if (!duration.empty()) {
      c.duration_ns = parse_duration_ns(duration);
      if (c.duration_ns <= 0) usage_error("--duration must be positive");
    } else if (c.requests > 0) {
      c.duration_ns = 0;  // run until the requests are done
    }
    c.warmup_ns = parse_duration_ns(warmup);
    c.timeout_ns = parse_duration_ns(timeout);
    c.connect_timeout_ns = parse_duration_ns(connect_timeout);
    if (c.timeout_ns <= 0 || c.connect_timeout_ns <= 0) usage_error("timeouts must be positive");
    if (!sources.empty()) c.source_addrs = expand_source_addrs(sources);
    c.idle_open_timeout_ns = parse_duration_ns(idle_timeout);
    c.idle_answer_wait_ns = parse_duration_ns(idle_answer_wait);
  } catch (const std::invalid_argument& e) {
    usage_error(e.what());
  }
  if (c.shard_count > c.connections) {
    usage_error("--shard: " + std::to_string(c.connections) + " connections cannot be shared by " +
                std::to_string(c.shard_count) + " shards");
  }
  const int shard_connections =
      c.connections / c.shard_count + (c.shard_index - 1 < c.connections % c.shard_count);
  if (c.threads > shard_connections) {
    usage_error("--threads must not exceed this shard's " + std::to_string(shard_connections) +
                " connections");
  }
  if (vm.count("clock-offset")) {
    if (!std::isfinite(clock_offset) || std::fabs(clock_offset) > 86400)
      usage_error("--clock-offset must be a number of seconds within a day");
    c.clock_offset_s = clock_offset;
  }
  if (vm.count("start-at")) {
    // On this host's clock the barrier is start_at + offset.
    const double local = start_at + c.clock_offset_s.value_or(0.0);
    const double now = unix_now();
    if (!std::isfinite(start_at) || local < now) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "--start-at %.3f is in the past (now %.3f on this host)",
                    start_at, now);
      usage_error(buf);
    }
    if (local > now + 86400) usage_error("--start-at is more than a day ahead");
    c.start_at_unix_s = start_at;
  }
  if (!idle.empty()) {
    c.idle = parse_count("--idle", idle);
    if (c.idle == 0) usage_error("--idle must be at least 1");
    if (vm.count("rate") || c.requests > 0 || c.shard_count > 1 || c.pipeline > 1)
      usage_error(
          "--idle holds connections; it takes no --rate, --requests, --shard or --pipeline");
  }
  return cl;
}

}  // namespace iomodels::loadgen
