// RequestParser: an incremental HTTP/1.1 request parser.
//
// Bytes are fed as they arrive from the socket, in pieces of any size: a
// request split over many reads, or several pipelined requests in one read.
// parse() stops at the end of each request so that the caller answers them
// one by one, in order, and feeds the rest again. The parser enforces the
// header-section and body limits and says which SPEC §3 status an error
// deserves. The HTTP grammar itself is Debian's http-parser (Node.js's parser
// before llhttp), kept inside request_parser.cpp; docs/parser-choice.md says
// why this one and not Boost.Beast.
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

enum class Method { Get, Post, Other };

// A parsed request. The views point into the parser and stay valid until the
// next call to parse() or reset().
struct Request {
  Method method = Method::Other;
  std::string_view method_name;
  std::string_view target;
  int version_major = 1;
  int version_minor = 1;
  bool keep_alive = true;
  bool has_content_length = false;
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
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;
  RequestParser(RequestParser&&) noexcept;
  RequestParser& operator=(RequestParser&&) noexcept;

  // Consumes bytes up to and including the end of one request. On Complete,
  // request() is ready and data[consumed..] is the start of the next one. On
  // Error, error_status() says what to answer; the connection must then close.
  ParseResult parse(std::span<const char> data);

  const Request& request() const;
  int error_status() const;  // 400, 413, 431, 501 or 505; 0 when no error
  std::string_view error_reason() const;

  // True while part of a request has arrived but not all of it: the time a
  // slow client may take here is bounded by --header-timeout-ms. An idle
  // keep-alive connection between requests is not in progress.
  bool in_progress() const;
  bool headers_complete() const;

  // Ready for a new request on a new connection.
  void reset();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace iomodels::http
