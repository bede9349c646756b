// RequestParser: an incremental HTTP/1.1 request parser.
//
// Bytes are fed as they arrive from the socket, in pieces of any size: a
// request split over many reads, or several pipelined requests in one read.
// parse() stops at the end of each request so that the caller answers them
// one by one, in order, and feeds the rest again. The parser enforces the
// header-section and body limits and says which SPEC §3 status an error
// deserves. The HTTP grammar is Boost.Beast's basic_parser, with the checks
// RFC 9110/9112 ask of a server that Beast leaves to its user (Host, transfer
// codings, the request-target's bytes, obs-fold, bounds on chunk lines) on
// top; both kept inside request_parser.cpp. docs/parser-choice.md says why
// Beast and not Debian's http-parser, and lists where the two differ.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace iomodels::http {

struct Limits {
  std::size_t max_header_bytes = 8 * 1024;
  std::size_t max_body = 8 * 1024 * 1024;
};

enum class Method { Get, Head, Post, Other };

// A parsed request. The views point into the parser and stay valid until the
// next call to parse() or reset(). Every field but `body` is set as soon as
// the header section is complete (headers_complete()), so that a session can
// decide about `Expect: 100-continue` before the body arrives; `body` is
// whole once parse() returned Complete.
struct Request {
  Method method = Method::Other;
  std::string_view method_name;
  std::string_view target;
  int version_major = 1;
  int version_minor = 1;
  bool keep_alive = true;
  bool has_content_length = false;
  bool chunked = false;         // Transfer-Encoding: chunked framed the body
  std::uint64_t content_length = 0;  // when has_content_length
  bool has_expect = false;
  std::string_view expect;      // the Expect field's value (its lines joined by ", ")
  std::string_view body;
};

enum class ParseStatus { NeedMore, Complete, Error };

struct ParseResult {
  ParseStatus status;
  std::size_t consumed;  // bytes of the input that belong to this request
};

class RequestParser {
 public:
  explicit RequestParser(Limits limits = {});
  // No parser: holds nothing and allocates nothing, until one is moved in.
  // A session keeps one of these between requests (a parser is lent to it
  // by the pool while a request arrives); it costs a pointer, where an
  // optional would cost two words on every idle connection.
  struct None {};
  explicit RequestParser(None) noexcept;
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;
  RequestParser(RequestParser&&) noexcept;
  RequestParser& operator=(RequestParser&&) noexcept;

  // Consumes bytes up to and including the end of one request. On Complete,
  // request() is ready and data[consumed..] is the start of the next one. On
  // Error, error_status() says what to answer; the connection must then close.
  ParseResult parse(std::span<const char> data);

  // False for a RequestParser(None{}) and for one moved from: nothing else
  // may be called on it then.
  bool held() const { return state_ != nullptr; }

  const Request& request() const;
  int error_status() const;  // 400, 413, 431, 501 or 505; 0 when no error
  std::string_view error_reason() const;

  // True while part of a request has arrived but not all of it: the time a
  // slow client may take here is bounded by --header-timeout-ms. An idle
  // keep-alive connection between requests is not in progress.
  bool in_progress() const;
  bool headers_complete() const;
  // The header section is complete and passed every check, so request()
  // holds its fields: also when parse() then refused the body (a malformed
  // chunk, 413 summed over chunks). What a session answers from the head
  // (Expect) must not depend on whether the body's error came in the same
  // read.
  bool head_accepted() const;
  // True between the end of a header section that announced a body
  // (Content-Length > 0, or chunked) and the end of that body: the time a
  // session may answer `Expect: 100-continue` or time the body out.
  bool awaiting_body() const;

  // Bytes of heap the parser holds for buffers (target, body, bytes waiting
  // for the rest of a line): what an idle or pooled parser costs.
  std::size_t memory_held() const;

  // Ready for a new request on a new connection. Buffers grown past a few
  // KiB by a large request are freed, so that a pooled parser does not keep
  // them.
  void reset();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace iomodels::http
