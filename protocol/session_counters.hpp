// What happened to the sessions of one thread, by category, printed when the
// server stops. Nothing fails silently: every refused, reset or timed-out
// exchange is counted here. Plain integers: a thread counts its own, and a
// model with several threads adds them up at the end.
#pragma once

#include <cstdint>
#include <string>

namespace iomodels::http {

struct SessionCounters {
  std::uint64_t connections = 0;      // sessions started
  std::uint64_t requests = 0;         // answered, errors included
  std::uint64_t bad_requests = 0;     // the parser refused them: 400, 413, 431, 501, 505
  std::uint64_t header_timeouts = 0;  // 408: the header section took too long
  std::uint64_t resets = 0;           // the peer reset or vanished mid-conversation

  SessionCounters& operator+=(const SessionCounters& other) {
    connections += other.connections;
    requests += other.requests;
    bad_requests += other.bad_requests;
    header_timeouts += other.header_timeouts;
    resets += other.resets;
    return *this;
  }
};

// "12 connections, 340 requests, 1 bad requests, 0 header timeouts, 2 resets":
// the same words in every model's exit log.
inline std::string describe(const SessionCounters& c) {
  auto n = [](std::uint64_t value) { return std::to_string(value); };
  return n(c.connections) + " connections, " + n(c.requests) + " requests, " + n(c.bad_requests) +
         " bad requests, " + n(c.header_timeouts) + " header timeouts, " + n(c.resets) + " resets";
}

}  // namespace iomodels::http
