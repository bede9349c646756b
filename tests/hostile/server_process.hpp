// ServerProcess: one server binary run as a child for a hostile-client test.
// It starts the server with --port 0, waits for "listening on HOST:PORT",
// and reads the child's resources from /proc while it runs (RSS, CPU time,
// open descriptors). The destructor kills whatever is still running, so no
// test leaves a server behind, whatever assertion failed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/fd.hpp"

namespace iomodels::hostile {

struct ServerLaunch {
  std::string path;
  std::vector<std::string> args;          // besides --port 0
  std::optional<std::uint64_t> nofile;    // RLIMIT_NOFILE, soft = hard
};

class ServerProcess {
 public:
  // Throws std::runtime_error if the server does not announce itself in time.
  explicit ServerProcess(const ServerLaunch& launch);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }
  std::uint16_t port() const { return port_; }

  bool alive();
  std::uint64_t rss_kib() const;
  // User + system CPU time of all its threads, in milliseconds.
  std::uint64_t cpu_ms() const;
  int open_fds() const;

  // Sends sig and waits up to timeout_ms for the exit. The wait status, or
  // nullopt if it is still running then (the destructor kills it).
  std::optional<int> signal_and_wait(int sig, int timeout_ms);

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::uint16_t port_ = 0;
  Fd stdout_;  // kept open: a server that logs to stdout must not get EPIPE
};

}  // namespace iomodels::hostile
