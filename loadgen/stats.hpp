// What a run counts: per worker thread while it runs, summed at the end.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "loadgen/latency_histogram.hpp"

namespace iomodels::loadgen {

// Every failure has a kind, as in wrk; nothing fails silently. Counted per
// event (one refused connect, one reset connection). See docs/loadgen.md.
struct ErrorCounts {
  std::uint64_t connect_refused = 0;  // ECONNREFUSED: nothing listening / backlog full
  std::uint64_t connect_timeout = 0;  // no answer within --connect-timeout
  std::uint64_t connect_reset = 0;    // reset during the handshake
  std::uint64_t connect_other = 0;    // anything else (EADDRNOTAVAIL: out of ports)
  std::uint64_t read = 0;             // read error, or closed with requests unanswered
  std::uint64_t reset = 0;            // ECONNRESET/EPIPE on an open connection
  std::uint64_t write = 0;            // write error other than a reset
  std::uint64_t timeout = 0;          // no complete response within --timeout
  std::uint64_t status = 0;           // responses with status >= 400 (still counted as requests)
  std::uint64_t parse = 0;            // bytes that are not an HTTP/1.x response
  std::uint64_t body = 0;             // GET /bytes/{n}: wrong length or wrong bytes

  std::uint64_t connect() const {
    return connect_refused + connect_timeout + connect_reset + connect_other;
  }
  // All kinds; status errors are answered requests, the rest are not.
  std::uint64_t total() const {
    return connect() + read + reset + write + timeout + status + parse + body;
  }
  void add(const ErrorCounts& o);
};

// One second of the measured window, by completion time.
struct TimelineSecond {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  LatencyHistogram histogram;  // corrected latencies of that second
};

// What became of every measured request: exactly one outcome each (SPEC §5,
// docs/loadgen.md). A request is measured if it was outstanding at some
// moment of the window: sent (open loop: scheduled) inside it, or sent
// before it and still unanswered when it opened.
struct Outcomes {
  std::uint64_t answered_2xx = 0;    // a 2xx (with a good body, for /bytes/{n})
  std::uint64_t answered_other = 0;  // any other final status
  std::uint64_t failed_read = 0;     // lost with a connection that failed so
  std::uint64_t failed_reset = 0;
  std::uint64_t failed_write = 0;
  std::uint64_t failed_parse = 0;
  std::uint64_t failed_body = 0;  // a 2xx whose /bytes/{n} body was wrong
  std::uint64_t timed_out = 0;    // given up after --timeout (with its connection)
  std::uint64_t open_at_end = 0;  // sent, unanswered when the window closed
  std::uint64_t never_sent = 0;   // open loop: due, never written before the close

  std::uint64_t failed() const {
    return failed_read + failed_reset + failed_write + failed_parse + failed_body;
  }
  std::uint64_t measured() const {
    return answered_2xx + answered_other + failed() + timed_out + open_at_end + never_sent;
  }
  // Responses that arrived (their latency is exact), whatever they said.
  std::uint64_t responses() const { return answered_2xx + answered_other + failed_body; }
  void add(const Outcomes& o);
  bool operator==(const Outcomes&) const = default;
};

struct RunTotals {
  Outcomes outcomes;
  std::uint64_t bytes_read = 0;
  std::uint64_t bytes_written = 0;
  std::array<std::uint64_t, 600> status{};  // by code; [0] for codes past 599
  ErrorCounts errors;
  std::uint64_t slots_opened = 0;  // connection slots that ever connected
  std::uint64_t slots = 0;         // connection slots asked for
  std::string last_connect_error;  // strerror of the last connect_other

  void add(const RunTotals& o);
};

}  // namespace iomodels::loadgen
