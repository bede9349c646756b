// Routing: a pure function from a parsed request to a plan of what to answer
// and when. The plan says "send this now", "wait ms, then send" or "burn us
// of CPU, then send"; each I/O model carries out the waiting its own way
// (a blocked thread, or a timer in the event loop). Nothing here touches a
// socket.
#pragma once

#include <cstdint>
#include <string_view>

#include "protocol/output_queue.hpp"
#include "protocol/request_parser.hpp"

namespace iomodels::http {

inline constexpr std::uint32_t kMaxCpuUs = 1'000'000;
inline constexpr std::uint32_t kMaxSleepMs = 60'000;

struct Response {
  int status = 200;
  std::string_view content_type = "text/plain";
  // The body: either these bytes (static text, or a view of the request body
  // for /echo, valid until the parser is fed again) ...
  std::string_view body;
  // ... or, when pattern_bytes is set, the /bytes/{n} pattern of that length.
  std::uint64_t pattern_bytes = 0;
  bool pattern = false;
  std::string_view allow;          // the Allow header of a 405
  // The answer to a HEAD: the head GET would have had, Content-Length
  // included, and no body (RFC 9110 §9.3.2).
  bool head_only = false;
  bool close = false;              // Connection: close, then close the connection
  bool keep_alive_header = false;  // HTTP/1.0 client that asked for keep-alive
};

enum class Action { Respond, SleepThenRespond, BurnCpuThenRespond };

struct Plan {
  Action action = Action::Respond;
  std::uint32_t sleep_ms = 0;
  std::uint32_t cpu_us = 0;
  Response response;
};

Plan route(const Request& request, const Limits& limits);

// RFC 9110 §10.1.1: what a request's Expect field gets, decided as soon as
// its header section is in, before its body. An HTTP/1.0 request's Expect is
// ignored (§10.1.1 says so of 100-continue, and a 1.0 client predates the
// field: Node.js does the same). An expectation we cannot meet gets 417. For
// 100-continue on a request that announces a body: the final answer at once
// if the head already decides it (an error: 404, 405, 411, ...; 413 is the
// parser's), so that the client does not send the body for nothing; else
// "100 Continue", also when some of the body is already here (§10.1.1 lets a
// server omit it then; sending it always makes the answer independent of how
// the stream was cut, as Node.js does).
struct ExpectAnswer {
  bool send_continue = false;
  bool final = false;  // answer `response` now, instead of reading the body
  Response response;
};
ExpectAnswer answer_expectation(const Request& request, const Limits& limits);

// The interim answer to `Expect: 100-continue`.
inline constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// The answer to a request that could not be parsed (400, 413, 431, 501, 505)
// or did not arrive in time (408), or whose expectation we cannot meet
// (417). The connection closes after it.
Response error_response(int status);

std::string_view status_reason(int status);

// Appends the whole response, head and body, to out. server_name is the
// value of the Server header, "iomodels-<model>".
void serialize(const Response& response, std::string_view server_name, OutputQueue& out);

}  // namespace iomodels::http
