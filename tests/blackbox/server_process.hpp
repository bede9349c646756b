// ServerProcess: one server binary started for one test, on a port the
// kernel picks (--port 0), so tests can run in parallel. It waits for the
// "listening on HOST:PORT" line (SPEC §4), keeps the server's stderr in a
// file (shown when a test fails), reads the server's resources from /proc
// while it runs (threads, RSS, CPU time, open descriptors), and stops it in
// its destructor if the test did not: no test leaves a process behind, and
// the server is killed with the test (PR_SET_PDEATHSIG) even if the test
// crashes. The one launcher of the C++ tests: the black-box suite and the
// hostile clients (tests/hostile) both start their servers with it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/fd.hpp"
#include "tests/blackbox/http_client.hpp"

namespace iomodels::testing {

struct ServerLaunch {
  std::string binary;
  std::vector<std::string> args;        // besides --port 0
  std::optional<std::uint64_t> nofile;  // RLIMIT_NOFILE, soft = hard (as prlimit would)
  // Sanitizer builds start slowly.
  std::chrono::milliseconds startup_timeout = 15s;
};

class ServerProcess {
 public:
  // Starts `binary --port 0 args...`; throws std::runtime_error (with the
  // server's stderr) if it exits or stays silent instead of listening.
  explicit ServerProcess(const ServerLaunch& launch);
  ServerProcess(const std::string& binary, const std::vector<std::string>& args)
      : ServerProcess(ServerLaunch{.binary = binary, .args = args, .nofile = {}}) {}
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& host() const { return host_; }
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  HttpConnection connect() const { return HttpConnection(host_, port_); }

  // True while the process has not exited.
  bool alive();
  // Sends the signal and waits for the exit: the wait status, or nullopt if
  // it is still running after the timeout.
  std::optional<int> stop(int signal, std::chrono::milliseconds timeout);
  // Threads of the server right now (/proc/PID/task).
  int thread_count() const;
  // Its resident memory (VmRSS), in KiB.
  std::uint64_t rss_kib() const;
  // User + system CPU time of all its threads, in milliseconds.
  std::uint64_t cpu_ms() const;
  // Descriptors it has open (/proc/PID/fd).
  int open_fds() const;
  // What the server wrote on stderr so far.
  std::string stderr_text() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> wait_status_;
  std::string stderr_path_;
  Fd stdout_;
  std::string host_;
  std::uint16_t port_ = 0;
};

struct ExitResult {
  std::optional<int> exit_code;  // nullopt: killed by a signal or timed out
  std::string out;
  std::string err;
};

// Runs a binary to completion (for --help and bad options) and collects its
// output; kills it after the timeout.
ExitResult run_to_exit(const std::string& binary, const std::vector<std::string>& args,
                       std::chrono::milliseconds timeout = 10s);

}  // namespace iomodels::testing
