// What every I/O model's sessions are told, one struct for all of them: the
// limits, the deadlines and the bounds of SPEC §3, and the Server header.
// Filled from the common command line (servers/common/server_options.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "protocol/request_parser.hpp"

namespace iomodels::http {

struct SessionConfig {
  Limits limits;
  // A request's header section must arrive within this much of its first
  // byte (408 after). An idle keep-alive connection between requests is not
  // timed: it is not a slow request.
  std::uint32_t header_timeout_ms = 10'000;
  // A request's body must arrive within this much of the end of its header
  // section (408 after): a client that announces a body and stops sending
  // would otherwise hold its buffer, and a blocking model's thread, for ever.
  // A minute lets an 8 MiB --max-body through at 140 KB/s.
  std::uint32_t body_timeout_ms = 60'000;
  // The blocking models only (0: none; the event loops leave them 0, where an
  // idle or unread connection costs a few hundred bytes, not a thread):
  // a new connection must send the first byte of a request within
  // first_byte_timeout_ms, and a write that makes no progress for
  // send_timeout_ms ends the connection. Without them, as many silent or
  // never-reading clients as there are threads hold the server until it stops.
  std::uint32_t first_byte_timeout_ms = 0;
  std::uint32_t send_timeout_ms = 0;
  // The output high-water mark: with more than this owed to a client that
  // does not read, the session stops reading (and so answering) until all of
  // it is written. Memory stays bounded; a blocking model reaches the same
  // state when its write blocks.
  std::size_t max_output_bytes = 1024 * 1024;
  // A graceful close (every close the server starts after an answer) reads
  // and discards at most this long and this much. A second covers a client
  // that is still sending what we will not read (its next RTT or two); the
  // byte bound stops a client that never stops.
  std::uint32_t linger_ms = 1000;
  std::size_t linger_bytes = 1024 * 1024;
  std::string server_name = "iomodels";  // the Server header: "iomodels-<model>"
};

}  // namespace iomodels::http
