// A deliberately small HTTP client over raw sockets, for tests that must
// misbehave in ways no real client library allows: half requests, resets,
// half-closes, never reading. Every call is bounded by a timeout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "net/fd.hpp"

namespace iomodels::hostile {

// A blocking TCP connection to 127.0.0.1:port; an invalid Fd on failure.
Fd connect_loopback(std::uint16_t port, int timeout_ms = 5000);
// Starts a non-blocking connect and returns at once (the handshake completes
// in the kernel, accepted or not).
Fd connect_nonblocking(std::uint16_t port);

// Writes all of data; false on error or if the peer stops reading for timeout_ms.
bool send_all(int fd, std::string_view data, int timeout_ms = 5000);

// Closes with a TCP reset (SO_LINGER 0): what a crashed client does.
void reset_connection(Fd fd);

struct HttpResponse {
  int status = 0;
  std::string head;   // status line and headers
  std::string body;
  bool close = false;  // Connection: close
  std::string header(std::string_view name) const;  // "" if absent
};

// Reads one response (Content-Length framed). `pending` carries bytes read
// past it to the next call. nullopt on timeout, EOF or a malformed response.
std::optional<HttpResponse> read_response(int fd, std::string& pending, int timeout_ms = 10000);

// Reads and discards until EOF or a reset; true if the peer closed within
// timeout_ms. `seen` gets the bytes read (up to a cap).
bool wait_for_close(int fd, int timeout_ms, std::string* seen = nullptr);

// GET path on a new connection; nullopt if anything failed.
std::optional<HttpResponse> get_once(std::uint16_t port, std::string_view path, int timeout_ms = 10000);

}  // namespace iomodels::hostile
