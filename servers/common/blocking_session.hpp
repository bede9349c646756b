// One connection served with blocking I/O, from the first byte to close:
// the whole of what server-blocking does per client, and what each worker of
// server-threaded does. Keep-alive, pipelining (every request in one read is
// answered, in order, and the answers leave in one writev), /sleep blocks the
// thread, /cpu burns it, errors get their status and a lingering close.
#pragma once

#include <cstdint>
#include <string_view>

#include "net/fd.hpp"
#include "protocol/request_parser.hpp"

namespace iomodels {

struct SessionConfig {
  http::Limits limits;
  std::uint32_t header_timeout_ms = 10'000;
  std::string_view server_name;
};

void serve_blocking_connection(Fd connection, const SessionConfig& config);

// accept() on a blocking listener, as server-blocking's loop and
// server-threaded's acceptor do it: the connection, or an invalid Fd when
// there is none for now. Out of descriptors or memory (EMFILE, ENFILE,
// ENOBUFS, ENOMEM) it waits 100 ms instead of spinning, and says so on
// stderr at most once a second.
Fd accept_blocking(int listener, std::string_view model);

// Graceful close after an error response: shutdown(SHUT_WR) so the client
// sees the response and EOF, then read and discard what it still sends for a
// short bounded time, then close. A plain close() with unread input makes the
// kernel send a reset, which can destroy the response before it is read.
void lingering_close(Fd connection);

}  // namespace iomodels
