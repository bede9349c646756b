// HttpConnection: a minimal HTTP/1.1 client over one blocking TCP socket, for
// tests that must control every byte (pipelining, requests split into single
// bytes, resets, half-sent headers). It sends raw bytes and reads responses
// framed by Content-Length, which every server of this project sends; it
// never follows redirects, decodes chunks or hides an error.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/fd.hpp"

namespace iomodels::testing {

using namespace std::chrono_literals;

struct HttpResponse {
  std::string version;  // "HTTP/1.1"
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  // in order, as sent
  std::string body;

  // The value of the first header of that name (case-insensitive).
  std::optional<std::string> header(std::string_view name) const;
  std::size_t header_count(std::string_view name) const;
};

enum class ReadStatus {
  Ok,
  Timeout,    // no complete response within the time given
  Closed,     // EOF before a complete response
  Reset,      // ECONNRESET (or another socket error)
  Malformed,  // not an HTTP/1.x response with a Content-Length
};
std::string_view to_string(ReadStatus status);

struct ReadResult {
  ReadStatus status = ReadStatus::Timeout;
  HttpResponse response;  // complete only when status is Ok
};

class HttpConnection {
 public:
  // Connects to host:port ("127.0.0.1", "[::1]", a name); throws
  // std::system_error if it cannot. TCP_NODELAY is set, so each send() leaves
  // as its own segment.
  HttpConnection(const std::string& host, std::uint16_t port);

  HttpConnection(HttpConnection&&) = default;
  HttpConnection& operator=(HttpConnection&&) = default;

  int fd() const { return fd_.get(); }

  // Sends all the bytes (blocking); false if the socket failed.
  bool send(std::string_view bytes);
  // Sends one byte per write, `gap` apart: the server sees the request in as
  // many pieces as the network lets through.
  bool send_bytewise(std::string_view bytes, std::chrono::microseconds gap = 500us);

  // Reads one response; bytes after it (a pipelined next response) are kept
  // for the next call.
  ReadResult read_response(std::chrono::milliseconds timeout = 10s);

  // Whatever bytes arrive within the timeout, up to max: for a test that
  // reads only part of a response.
  std::string read_raw(std::size_t max, std::chrono::milliseconds timeout);

  // Everything that arrives until the server closes, and how it closed:
  // Closed (FIN: graceful), Reset (RST: it closed with our bytes unread, or
  // aborted) or Timeout (still open). read_raw() then wait_close() cannot
  // tell: a reset is reported once, to the read that meets it, and the next
  // read sees EOF.
  struct Rest {
    ReadStatus how = ReadStatus::Timeout;
    std::string bytes;
  };
  Rest read_until_close(std::chrono::milliseconds timeout = 5s);

  // True once the server has closed its side (EOF or reset) within the
  // timeout; bytes still arriving are discarded. False if it stays open.
  bool wait_closed(std::chrono::milliseconds timeout = 5s);
  // The same, saying how: Closed (FIN, a graceful close), Reset (RST: the
  // server closed with input unread, or aborted), or Timeout.
  ReadStatus wait_close(std::chrono::milliseconds timeout = 5s);

  // True if nothing at all arrives within `quiet` (the server is still busy
  // elsewhere, or has nothing to say) and the connection stays open.
  bool stays_silent(std::chrono::milliseconds quiet);

  // shutdown(SHUT_WR): the server reads EOF after what was sent.
  void close_write();
  // Closes with SO_LINGER {on, 0}: the kernel sends RST instead of FIN, as a
  // client that crashed or gave up would.
  void reset();

 private:
  // Waits up to `deadline` for more bytes into buffer_; Ok, Timeout, Closed or Reset.
  ReadStatus fill(std::chrono::steady_clock::time_point deadline);

  Fd fd_;
  std::string buffer_;  // received, not yet returned
};

// "GET path HTTP/1.1\r\nHost: test\r\n<extra>\r\n": extra headers end in CRLF.
std::string get_request(std::string_view path, std::string_view extra_headers = "");
std::string post_request(std::string_view path, std::string_view body,
                         std::string_view extra_headers = "");

}  // namespace iomodels::testing
