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
  std::uint64_t body_timeouts = 0;    // 408: the body took too long
  std::uint64_t idle_timeouts = 0;    // closed: no first byte in time (blocking models)
  std::uint64_t send_timeouts = 0;    // closed: a write made no progress (blocking models)
  std::uint64_t resets = 0;           // the peer reset or vanished mid-conversation

  SessionCounters& operator+=(const SessionCounters& other) {
    connections += other.connections;
    requests += other.requests;
    bad_requests += other.bad_requests;
    header_timeouts += other.header_timeouts;
    body_timeouts += other.body_timeouts;
    idle_timeouts += other.idle_timeouts;
    send_timeouts += other.send_timeouts;
    resets += other.resets;
    return *this;
  }
};

// "12 connections, 340 requests, 1 bad requests, 0 header timeouts, 0 body
// timeouts, 0 first-byte timeouts, 0 send timeouts, 2 resets": the same words
// in every model's exit log.
inline std::string describe(const SessionCounters& c) {
  auto n = [](std::uint64_t value) { return std::to_string(value); };
  return n(c.connections) + " connections, " + n(c.requests) + " requests, " + n(c.bad_requests) +
         " bad requests, " + n(c.header_timeouts) + " header timeouts, " + n(c.body_timeouts) +
         " body timeouts, " + n(c.idle_timeouts) + " first-byte timeouts, " + n(c.send_timeouts) +
         " send timeouts, " + n(c.resets) + " resets";
}

}  // namespace iomodels::http
