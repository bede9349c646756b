// Connection: what server-uring keeps per client between completions.
//
// With completions, the kernel holds pointers into this object while an
// operation is in flight (the iovecs of a send, the timespec of a timer). So
// a connection is freed only once nothing of it is in flight any more
// (in_flight == 0), and the responses being sent are frozen in `sending`
// while new ones collect in `queued`: appending to a buffer the kernel is
// reading could move it.
//
// Memory: an idle keep-alive connection holds this object and no buffer.
// Receives land in the ring's provided buffers, a parser is borrowed from
// the server's pool only while a request is arriving, and the output queues
// free their buffers once everything is sent.
#pragma once

#include <linux/time_types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "net/fd.hpp"
#include "protocol/output_queue.hpp"
#include "protocol/request_parser.hpp"
#include "protocol/router.hpp"

namespace iomodels::uring {

using Clock = std::chrono::steady_clock;

struct Connection {
  explicit Connection(Fd socket) : fd(std::move(socket)) {}

  Fd fd;
  // Borrowed from the server's pool only while a request is arriving.
  std::optional<http::RequestParser> parser;
  // The parser has taken bytes that did not complete a request. Not only a
  // half-received request: empty lines before one (which http-parser skips)
  // count too, towards --max-header-bytes, so a client sending an endless
  // stream of CRLFs gets 431 instead of a fresh parser every read.
  bool parser_has_partial = false;
  // The bytes of the send in flight (frozen meanwhile), and the responses
  // made while it is in flight.
  http::OutputQueue sending;
  http::OutputQueue queued;
  // Input that arrived behind a /sleep request: parsed after its answer, so
  // pipelined answers stay in order. Empty otherwise.
  std::string unparsed;

  // The send in flight: the kernel reads these until it completes.
  static constexpr int kMaxIov = 8;
  msghdr message{};
  iovec iov[kMaxIov]{};

  // Timers: the /sleep timeout, and the timeout linked to a receive (header
  // timeout, or the end of a lingering close). The kernel reads a timespec
  // when it takes the SQE, but keeping them here makes that a non-question.
  __kernel_timespec sleep_time{};
  __kernel_timespec receive_time{};
  http::Plan sleeping_plan;  // what to answer when the /sleep timer fires

  // The header timeout runs from a request's first byte until its header
  // section is complete (SPEC §3); idle time between requests is not timed.
  bool timing_header = false;
  Clock::time_point header_deadline;

  // Lingering close (after an error response): discard input until EOF, the
  // deadline or the byte limit, then close.
  bool lingering = false;
  Clock::time_point linger_deadline;
  std::size_t linger_bytes = 0;

  int in_flight = 0;  // operations the kernel still holds
  bool receiving = false;
  bool send_in_flight = false;
  bool sleeping = false;
  bool close_after_send = false;   // the last response said Connection: close
  bool linger_after_send = false;  // ... and was an error: close gracefully
  bool closing = false;            // being torn down; freed at in_flight == 0

  std::uint64_t pending_output() const { return sending.pending() + queued.pending(); }
};

}  // namespace iomodels::uring
