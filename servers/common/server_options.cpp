#include "servers/common/server_options.hpp"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <system_error>

namespace po = boost::program_options;

namespace iomodels {
namespace {

// The blocking models' first-byte and send timeouts by default: as long as
// --header-timeout-ms, ample for any client that means to talk, and short
// enough that --pool's silent or never-reading clients free their threads.
constexpr long long kBlockingTimeoutMs = 10'000;
// A day: any longer is a mistake, and every deadline stays far inside the
// 32 bits of milliseconds a SessionConfig holds.
constexpr long long kMaxTimeoutMs = 86'400'000;

}  // namespace

ServerCommandLine::ServerCommandLine(std::string model, std::string summary)
    : model_name_(std::move(model)),
      server_name_("iomodels-" + model_name_),
      summary_(std::move(summary)),
      common_("Common options"),
      model_(model_name_ + " options") {
  ServerOptions d;
  common_.add_options()("help,h", "show this help and exit")(
      "host", po::value<std::string>()->default_value(d.listen.host),
      "address to listen on (loopback by default; 0.0.0.0 or :: to serve the network)")(
      "port,p", po::value<std::uint16_t>()->default_value(d.listen.port),
      "TCP port; 0 lets the kernel pick a free one (see the 'listening on' line)")(
      "backlog", po::value<int>()->default_value(d.listen.backlog),
      "listen backlog (the kernel caps it at net.core.somaxconn)")(
      "max-header-bytes",
      po::value<std::size_t>()->default_value(d.session.limits.max_header_bytes),
      "largest request line + header section; more gets 431")(
      "max-body", po::value<std::size_t>()->default_value(d.session.limits.max_body),
      "largest POST body and /bytes/{n}; a larger Content-Length gets 413")(
      "header-timeout-ms", po::value<long long>()->default_value(d.session.header_timeout_ms),
      "time a started request may take to send its header section; then 408 "
      "(an idle keep-alive connection between requests is not timed out)")(
      "body-timeout-ms", po::value<long long>()->default_value(d.session.body_timeout_ms),
      "time a request's body may take from the end of its header section; then 408 and a "
      "graceful close")(
      "max-output-bytes", po::value<std::size_t>()->default_value(d.session.max_output_bytes),
      "per connection: with more than this owed to a client that does not read, the server "
      "stops reading its requests until it has caught up");
}

void ServerCommandLine::add_blocking_timeouts() {
  blocking_timeouts_ = true;
  model_.add_options()(
      "first-byte-timeout-ms", po::value<long long>()->default_value(kBlockingTimeoutMs),
      "time a new connection may take to send the first byte of a request; then it is closed "
      "without an answer (a silent client holds a thread until then)")(
      "send-timeout-ms", po::value<long long>()->default_value(kBlockingTimeoutMs),
      "time a write may go without the client taking a byte; then the connection is closed "
      "(a client that does not read holds a thread until then)");
}

ServerOptions ServerCommandLine::parse(int argc, char** argv) {
  po::options_description all;
  all.add(common_).add(model_);
  // No positional arguments: an empty description makes Boost reject a stray
  // word ("server-x 8080") instead of silently ignoring it.
  po::positional_options_description none;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(none).run(), values_);
    if (values_.count("help")) {
      std::cout << "usage: server-" << model_name_ << " [options]\n\n"
                << summary_ << "\n\n"
                << all << std::endl;
      std::exit(0);
    }
    po::notify(values_);
  } catch (const po::error& e) {
    fail(std::string(e.what()) + " (try --help)");
  }

  ServerOptions options;
  options.listen.host = values_["host"].as<std::string>();
  options.listen.port = values_["port"].as<std::uint16_t>();
  options.listen.backlog = values_["backlog"].as<int>();
  http::SessionConfig& session = options.session;
  session.limits.max_header_bytes = values_["max-header-bytes"].as<std::size_t>();
  session.limits.max_body = values_["max-body"].as<std::size_t>();
  session.max_output_bytes = values_["max-output-bytes"].as<std::size_t>();
  session.server_name = server_name_;
  if (options.listen.backlog <= 0) fail("--backlog must be positive");
  if (session.limits.max_header_bytes < 64) fail("--max-header-bytes must be at least 64");
  if (session.max_output_bytes < 1024) fail("--max-output-bytes must be at least 1024");
  auto timeout = [&](const char* name) {
    return static_cast<std::uint32_t>(in_range(name, 1, kMaxTimeoutMs));
  };
  session.header_timeout_ms = timeout("header-timeout-ms");
  session.body_timeout_ms = timeout("body-timeout-ms");
  if (blocking_timeouts_) {
    session.first_byte_timeout_ms = timeout("first-byte-timeout-ms");
    session.send_timeout_ms = timeout("send-timeout-ms");
  }
  return options;
}

long long ServerCommandLine::in_range(const char* name, long long low, long long high) const {
  const long long value = values_[name].as<long long>();
  if (value < low || value > high) {
    fail("--" + std::string(name) + " must be between " + std::to_string(low) + " and " +
         std::to_string(high));
  }
  return value;
}

void ServerCommandLine::fail(const std::string& message) const {
  std::cerr << "server-" << model_name_ << ": " << message << std::endl;
  std::exit(2);
}

std::uint64_t log_fd_limit(const std::string& model) {
  FdLimit limit = raise_fd_limit();
  // Each connection costs one fd; a few are the listener, stdio, epoll, ...
  std::fprintf(stderr, "server-%s: open files limit %llu (hard %llu): at most ~%llu connections\n",
               model.c_str(), static_cast<unsigned long long>(limit.soft),
               static_cast<unsigned long long>(limit.hard),
               static_cast<unsigned long long>(limit.soft > 16 ? limit.soft - 16 : 0));
  return limit.soft;
}

Fd listen_or_exit(const ListenOptions& options, const std::string& model) {
  try {
    return listen_tcp(options);
  } catch (const std::system_error& e) {
    std::string hint;
    if (e.code() == std::errc::address_in_use)
      hint = " (port in use: pick another with --port, or 0)";
    std::cerr << "server-" << model << ": " << e.what() << hint << std::endl;
    std::exit(2);
  }
}

void announce_listening(int listen_fd) {
  std::printf("listening on %s\n", local_address(listen_fd).c_str());
  std::fflush(stdout);
}

}  // namespace iomodels
