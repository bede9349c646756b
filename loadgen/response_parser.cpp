#include "loadgen/response_parser.hpp"

#include <http_parser.h>

#include "protocol/body_pattern.hpp"

namespace iomodels::loadgen {

// Everything http-parser needs lives here, so that its header stays out of
// the rest of the load generator.
struct ResponseParser::State {
  State(std::optional<std::uint64_t> expected, bool no_body)
      : expected_length(expected), no_body(no_body) {
    start();
  }

  std::optional<std::uint64_t> expected_length;
  bool no_body;
  http_parser parser{};
  Response response;
  bool started = false;
  bool message_done = false;
  std::string_view error;

  void start() {
    http_parser_init(&parser, HTTP_RESPONSE);
    parser.data = this;
    next_message();
  }
  void next_message() {
    response = Response{};
    started = message_done = false;
    error = {};
  }

  static State& of(http_parser* p) { return *static_cast<State*>(p->data); }

  // One callback table for the process; the parser itself is a few bytes.
  static const http_parser_settings& settings() {
    static const http_parser_settings table = [] {
      http_parser_settings s;
      http_parser_settings_init(&s);
      s.on_message_begin = &on_message_begin;
      s.on_headers_complete = &on_headers_complete;
      s.on_body = &on_body;
      s.on_message_complete = &on_message_complete;
      return s;
    }();
    return table;
  }

  static int on_message_begin(http_parser* p) {
    of(p).started = true;
    return 0;
  }

  static bool interim(const http_parser* p) {
    return p->status_code >= 100 && p->status_code < 200 && p->status_code != 101;
  }

  // Returning 1 tells http-parser the message has no body: the answer to a
  // HEAD carries the Content-Length of the GET it stands for.
  static int on_headers_complete(http_parser* p) { return of(p).no_body && !interim(p) ? 1 : 0; }

  static int on_body(http_parser* p, const char* at, std::size_t len) {
    State& s = of(p);
    if (s.expected_length && s.response.body_ok &&
        !http::check_pattern({at, len}, s.response.body_bytes)) {
      s.response.body_ok = false;
    }
    s.response.body_bytes += len;
    return 0;
  }

  static int on_message_complete(http_parser* p) {
    State& s = of(p);
    if (interim(p)) {
      // Not the answer: the final response follows on the same stream.
      s.response = Response{};
      s.started = false;
      return 0;
    }
    s.message_done = true;
    s.response.status = static_cast<int>(p->status_code);
    s.response.keep_alive = http_should_keep_alive(p) != 0;
    if (s.expected_length && s.response.body_bytes != *s.expected_length) {
      s.response.body_ok = false;
    }
    // Pausing makes http_parser_execute() return right after this response,
    // so that each is matched with its request before the next is parsed.
    http_parser_pause(p, 1);
    return 0;
  }

  FeedResult run(const char* data, std::size_t len) {
    if (message_done) {
      next_message();
      http_parser_pause(&parser, 0);
    }
    // An earlier error sticks: http-parser refuses further input anyway.
    if (HTTP_PARSER_ERRNO(&parser) != HPE_OK && HTTP_PARSER_ERRNO(&parser) != HPE_PAUSED) {
      return {ParseStatus::Error, 0};
    }
    const std::size_t consumed = http_parser_execute(&parser, &settings(), data, len);
    if (message_done) return {ParseStatus::Complete, consumed};
    const auto code = HTTP_PARSER_ERRNO(&parser);
    if (code != HPE_OK) {
      error = http_errno_description(code);
      return {ParseStatus::Error, consumed};
    }
    return {ParseStatus::NeedMore, consumed};
  }
};

ResponseParser::ResponseParser(std::optional<std::uint64_t> expected_pattern_length, bool no_body)
    : state_(std::make_unique<State>(expected_pattern_length, no_body)) {}
ResponseParser::~ResponseParser() = default;
ResponseParser::ResponseParser(ResponseParser&&) noexcept = default;
ResponseParser& ResponseParser::operator=(ResponseParser&&) noexcept = default;

FeedResult ResponseParser::feed(std::span<const char> data) {
  if (data.empty()) return {ParseStatus::NeedMore, 0};
  return state_->run(data.data(), data.size());
}

FeedResult ResponseParser::feed_eof() {
  // A zero-length execute tells http-parser the stream ended.
  return state_->run(nullptr, 0);
}

const Response& ResponseParser::response() const {
  return state_->response;
}
std::string_view ResponseParser::error() const {
  return state_->error;
}
bool ResponseParser::in_progress() const {
  return state_->started && !state_->message_done;
}
void ResponseParser::reset() {
  state_->start();
}

}  // namespace iomodels::loadgen
