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

struct RunTotals {
  std::uint64_t sent = 0;        // measured requests written
  std::uint64_t requests = 0;    // measured responses received (any status)
  std::uint64_t failed = 0;      // measured requests lost to an error
  std::uint64_t unfinished = 0;  // measured requests still in flight at the end
  std::uint64_t scheduled = 0;   // open loop: measured requests due by the end
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
