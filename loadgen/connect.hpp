// Opening a client connection, for the workers and the --idle hold alike.
#pragma once

#include <sys/socket.h>

#include <string>

#include "net/fd.hpp"

namespace iomodels::loadgen {

struct Address {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

struct Connecting {
  Fd fd;              // empty on failure
  bool done = false;  // connected at once (no EPOLLOUT to wait for)
  int error = 0;      // errno on failure
};

// A non-blocking TCP_NODELAY socket, bound to `source` when given, with
// connect() started.
Connecting start_connection(const Address& target, const Address* source);

// The request as sent: method, path, Host (unless given with -H), headers,
// Content-Length for a body or a POST, the body.
struct Config;
std::string build_request(const Config& c);

}  // namespace iomodels::loadgen
