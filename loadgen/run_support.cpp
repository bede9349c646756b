#include "loadgen/run_support.hpp"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>

#include "loadgen/worker.hpp"
#include "net/socket.hpp"

namespace iomodels::loadgen {

bool fd_limit_fits(std::uint64_t connections, int threads) {
  const FdLimit limit = raise_fd_limit();
  const std::uint64_t needed = connections + static_cast<std::uint64_t>(threads) + kSpareFds;
  if (needed <= limit.soft) return true;
  std::cerr << "loadgen: " << connections << " connections need about " << needed
            << " file descriptors, but this process may open only " << limit.soft
            << " (RLIMIT_NOFILE soft " << limit.soft << ", hard " << limit.hard << ").\n"
            << "Please raise ulimit -n (e.g. `ulimit -n " << needed
            << "`), or, past the hard limit,\n"
            << "run several loadgen processes with fewer connections (--shard I/N) and\n"
            << "combine their --json files with `loadgen --merge`.\n";
  return false;
}

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

bool wait_until(std::int64_t deadline_ns, const sigset_t& signals) {
  for (;;) {
    const std::int64_t left = deadline_ns - now_ns();
    if (left <= 0) return true;
    // In slices: sigtimedwait's timeout is relative, and the wait may be long.
    const std::int64_t slice = std::min<std::int64_t>(left, 1'000'000'000);
    const timespec timeout{slice / 1'000'000'000, slice % 1'000'000'000};
    const int sig = sigtimedwait(&signals, nullptr, &timeout);
    if (sig == SIGINT || sig == SIGTERM) return false;
  }
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

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

double unix_now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace iomodels::loadgen
