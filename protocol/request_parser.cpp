#include "protocol/request_parser.hpp"

#include <http_parser.h>
#include <strings.h>

#include <algorithm>

namespace iomodels::http {

// Everything http-parser needs lives here, so that its header stays out of
// every other file of the project.
struct RequestParser::State {
  explicit State(Limits l) : limits(l) { start(); }

  Limits limits;
  http_parser parser{};
  Request request;

  std::string target;
  std::string body;
  std::string field;        // the header name being received, for TE checks
  bool field_done = false;  // the next header-name byte starts a new name
  bool saw_transfer_encoding = false;
  bool started = false;  // some byte of this request has been consumed
  bool headers_done = false;
  bool message_done = false;
  std::size_t header_bytes_before = 0;  // header bytes fed in earlier calls
  const char* chunk_begin = nullptr;    // start of the data of this call
  int error_status = 0;
  std::string_view error_reason;

  void start() {
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = this;
    target.clear();
    body.clear();
    field.clear();
    field_done = false;
    saw_transfer_encoding = false;
    started = headers_done = message_done = false;
    header_bytes_before = 0;
    request = Request{};
  }

  // Stops the parse with a status; http-parser reports it as a callback error.
  // -1, not 1: on_headers_complete returning 1 means "no body", not failure.
  int fail(int status, std::string_view reason) {
    error_status = status;
    error_reason = reason;
    return -1;
  }

  // The header section's size so far; `end` is the last byte seen.
  bool header_too_big(const char* end) const {
    return header_bytes_before + static_cast<std::size_t>(end - chunk_begin) >
           limits.max_header_bytes;
  }

  static State& of(http_parser* p) { return *static_cast<State*>(p->data); }

  // The callbacks are the same for every parser: one table for the process
  // keeps an idle connection's parser small.
  static const http_parser_settings& settings() {
    static const http_parser_settings table = [] {
      http_parser_settings s;
      http_parser_settings_init(&s);
      s.on_message_begin = &on_message_begin;
      s.on_url = &on_url;
      s.on_header_field = &on_header_field;
      s.on_header_value = &on_header_value;
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

  static int on_url(http_parser* p, const char* at, std::size_t len) {
    State& s = of(p);
    if (s.header_too_big(at + len)) return s.fail(431, "request line too long");
    s.target.append(at, len);
    return 0;
  }

  static int on_header_field(http_parser* p, const char* at, std::size_t len) {
    State& s = of(p);
    if (s.header_too_big(at + len)) return s.fail(431, "header section too large");
    // Debian builds http-parser non-strict, which lets spaces into a header
    // name: "Transfer-Encoding : chunked" would then escape the 501 check.
    // RFC 9112 §5.1: whitespace before the colon MUST be answered with 400.
    if (std::string_view(at, len).find_first_of(" \t") != std::string_view::npos) {
      return s.fail(400, "whitespace in a header name");
    }
    if (s.field_done) {
      s.field.clear();
      s.field_done = false;
    }
    // Only the length of the name matters past what we compare against.
    if (s.field.size() < 32) s.field.append(at, std::min<std::size_t>(len, 32));
    return 0;
  }

  static int on_header_value(http_parser* p, const char* at, std::size_t len) {
    State& s = of(p);
    if (s.header_too_big(at + len)) return s.fail(431, "header section too large");
    if (!s.field_done) {
      s.field_done = true;
      if (strcasecmp(s.field.c_str(), "transfer-encoding") == 0) s.saw_transfer_encoding = true;
    }
    return 0;
  }

  static int on_headers_complete(http_parser* p) {
    State& s = of(p);
    s.headers_done = true;
    // The version is checked before anything else: a client speaking another
    // HTTP cannot be trusted to mean the same by the rest.
    if (p->http_major != 1 || p->http_minor > 1) return s.fail(505, "HTTP version not supported");
    if (s.saw_transfer_encoding) return s.fail(501, "Transfer-Encoding not implemented");
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > s.limits.max_body) {
      return s.fail(413, "body larger than --max-body");
    }
    if (p->flags & F_CONTENTLENGTH) s.body.reserve(p->content_length);
    return 0;
  }

  static int on_body(http_parser* p, const char* at, std::size_t len) {
    of(p).body.append(at, len);
    return 0;
  }

  static int on_message_complete(http_parser* p) {
    State& s = of(p);
    s.message_done = true;
    Request& r = s.request;
    auto method = static_cast<http_method>(p->method);
    r.method = method == HTTP_GET    ? Method::Get
               : method == HTTP_POST ? Method::Post
                                     : Method::Other;
    r.method_name = http_method_str(method);
    r.target = s.target;
    r.version_major = p->http_major;
    r.version_minor = p->http_minor;
    r.keep_alive = http_should_keep_alive(p) != 0;
    r.has_content_length = (p->flags & F_CONTENTLENGTH) != 0;
    r.body = s.body;
    // Pausing makes http_parser_execute() return right after this request,
    // so that pipelined requests are answered one at a time, in order.
    http_parser_pause(p, 1);
    return 0;
  }
};

namespace {

// Which status a grammar error deserves (SPEC §3).
int status_for(http_errno error, bool saw_transfer_encoding) {
  switch (error) {
    case HPE_HEADER_OVERFLOW:
      return 431;
    case HPE_INVALID_VERSION:
      return 505;
    case HPE_UNEXPECTED_CONTENT_LENGTH:
      // http-parser refuses Content-Length beside Transfer-Encoding, and a
      // duplicate Content-Length; the first is our 501, the second a 400.
      return saw_transfer_encoding ? 501 : 400;
    default:
      return 400;
  }
}

}  // namespace

RequestParser::RequestParser(Limits limits) : state_(std::make_unique<State>(limits)) {}

RequestParser::~RequestParser() = default;
RequestParser::RequestParser(RequestParser&& other) noexcept = default;
RequestParser& RequestParser::operator=(RequestParser&& other) noexcept = default;

ParseResult RequestParser::parse(std::span<const char> data) {
  State& s = *state_;
  if (s.error_status != 0) return {ParseStatus::Error, 0};
  if (s.message_done) {
    // The previous request was answered: start the next one. Keeping the
    // strings' capacity saves an allocation per request on a busy connection.
    s.target.clear();
    s.body.clear();
    s.field.clear();
    s.field_done = false;
    s.saw_transfer_encoding = false;
    s.started = s.headers_done = s.message_done = false;
    s.header_bytes_before = 0;
    http_parser_pause(&s.parser, 0);
  }
  if (data.empty()) return {ParseStatus::NeedMore, 0};

  s.chunk_begin = data.data();
  std::size_t consumed =
      http_parser_execute(&s.parser, &State::settings(), data.data(), data.size());
  auto error = HTTP_PARSER_ERRNO(&s.parser);

  if (s.message_done) return {ParseStatus::Complete, consumed};
  if (s.error_status != 0) return {ParseStatus::Error, consumed};
  if (error != HPE_OK) {
    s.error_status = status_for(error, s.saw_transfer_encoding);
    s.error_reason = http_errno_description(error);
    return {ParseStatus::Error, consumed};
  }
  if (!s.headers_done) {
    s.header_bytes_before += consumed;
    // Bytes between header lines (CRLFs, the method) reach no callback.
    if (s.header_bytes_before > s.limits.max_header_bytes) {
      s.error_status = 431;
      s.error_reason = "header section too large";
      return {ParseStatus::Error, consumed};
    }
  }
  return {ParseStatus::NeedMore, consumed};
}

const Request& RequestParser::request() const {
  return state_->request;
}
int RequestParser::error_status() const {
  return state_->error_status;
}
std::string_view RequestParser::error_reason() const {
  return state_->error_reason;
}
bool RequestParser::in_progress() const {
  return state_->started && !state_->message_done;
}
bool RequestParser::headers_complete() const {
  return state_->headers_done;
}

void RequestParser::reset() {
  state_->error_status = 0;
  state_->error_reason = {};
  state_->start();
}

}  // namespace iomodels::http
