// The command line every server shares (SPEC §4), parsed with
// Boost.Program_options. Each server adds its own options to model_options()
// before calling parse().
#pragma once

#include <boost/program_options.hpp>

#include <cstdint>
#include <string>

#include "net/socket.hpp"
#include "protocol/session_config.hpp"

namespace iomodels {

struct ServerOptions {
  ListenOptions listen;
  http::SessionConfig session;  // limits, deadlines, bounds, the Server header
};

class ServerCommandLine {
 public:
  // model: "epoll", "threaded", ... (the Server header says iomodels-<model>);
  // summary: one paragraph for --help that says what the model is.
  ServerCommandLine(std::string model, std::string summary);

  boost::program_options::options_description& model_options() { return model_; }

  // The blocking models' --first-byte-timeout-ms and --send-timeout-ms
  // (SPEC §4), where a silent or never-reading client holds a thread: call
  // before parse(), which then sets them in the SessionConfig.
  void add_blocking_timeouts();

  // Parses argv. --help prints the options and exits 0; a bad or unknown
  // option prints "server-<model>: <what is wrong>" and exits 2.
  ServerOptions parse(int argc, char** argv);
  const boost::program_options::variables_map& values() const { return values_; }

  const std::string& model() const { return model_name_; }

  // Prints "server-<model>: message" on stderr and exits 2: for option
  // values a server checks itself after parse().
  [[noreturn]] void fail(const std::string& message) const;

  // The value of an option declared as po::value<long long>, or exit 2
  // naming it and the range. Read signed and checked here: Boost would turn
  // "-1" into a huge unsigned value.
  long long in_range(const char* name, long long low, long long high) const;

 private:
  std::string model_name_;
  std::string server_name_;  // "iomodels-<model>": parse() puts it in the SessionConfig
  std::string summary_;
  boost::program_options::options_description common_;
  boost::program_options::options_description model_;
  bool blocking_timeouts_ = false;
  boost::program_options::variables_map values_;
};

// Raises the fd limit and logs the ceiling on connections it implies.
// Returns the soft limit now in force.
std::uint64_t log_fd_limit(const std::string& model);

// Binds the listener or exits 2 with a clear message (port in use, bad host).
Fd listen_or_exit(const ListenOptions& options, const std::string& model);

// Prints "listening on HOST:PORT" on stdout and flushes: scripts wait for it.
void announce_listening(int listen_fd);

}  // namespace iomodels
