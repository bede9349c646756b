// ResponseParser: an incremental HTTP/1.x response parser for the load
// generator, on top of Debian's http-parser (the parser wrk uses too).
//
// Interim responses (1xx other than 101, e.g. "100 Continue") are skipped:
// the final response that follows is the answer. After a HEAD request a
// response has no body whatever its Content-Length says.
//
// feed() takes bytes as they arrive, in pieces of any size, and stops at the
// end of each response, so that pipelined responses are matched one by one
// with the requests that asked for them. It is safe on any bytes: garbage is
// an Error, never a crash (a libFuzzer target drives it). When the request
// was GET /bytes/{n}, the body is checked against protocol/body_pattern.hpp
// as it streams past, without being kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

namespace iomodels::loadgen {

struct Response {
  int status = 0;
  bool keep_alive = true;  // false: the server will close after this one
  bool body_ok = true;     // false: the /bytes/{n} body check failed
  std::uint64_t body_bytes = 0;
};

enum class ParseStatus { NeedMore, Complete, Error };

struct FeedResult {
  ParseStatus status;
  std::size_t consumed;  // bytes of the input that belong to this response
};

class ResponseParser {
 public:
  // expected_pattern_length: the n of GET /bytes/{n}; the body must then be
  // exactly n bytes of the pattern. no_body: the requests are HEAD.
  explicit ResponseParser(std::optional<std::uint64_t> expected_pattern_length = std::nullopt,
                          bool no_body = false);
  ~ResponseParser();
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;
  ResponseParser(ResponseParser&&) noexcept;
  ResponseParser& operator=(ResponseParser&&) noexcept;

  // Consumes bytes up to and including the end of one response. On Complete,
  // response() is ready and data[consumed..] starts the next one. After an
  // Error the connection is beyond saving; reset() before reuse.
  FeedResult feed(std::span<const char> data);
  // The peer closed: completes a response whose body runs to the close.
  FeedResult feed_eof();

  const Response& response() const;
  std::string_view error() const;  // what was wrong, after an Error
  bool in_progress() const;        // part of a response has arrived

  void reset();  // for a new connection

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace iomodels::loadgen
