#include "tests/blackbox/http_client.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <system_error>
#include <thread>
#include <utility>

#include "net/socket.hpp"

namespace iomodels::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadChunk = 64 * 1024;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Parses the status line and header lines of `head` (without the blank
// line). False if it is not an HTTP/1.x response head.
bool parse_head(std::string_view head, HttpResponse& out) {
  std::size_t line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  // "HTTP/1.1 200 OK"
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ') {
    return false;
  }
  out.version = std::string(status_line.substr(0, 8));
  std::string_view code = status_line.substr(9, 3);
  auto [end, ec] = std::from_chars(code.data(), code.data() + 3, out.status);
  if (ec != std::errc{} || end != code.data() + 3) return false;
  out.reason = std::string(trim(status_line.substr(12)));

  while (line_end != std::string_view::npos) {
    head.remove_prefix(line_end + 2);
    line_end = head.find("\r\n");
    std::string_view line = head.substr(0, line_end);
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    out.headers.emplace_back(std::string(line.substr(0, colon)),
                             std::string(trim(line.substr(colon + 1))));
  }
  return true;
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return std::nullopt;
}

std::size_t HttpResponse::header_count(std::string_view name) const {
  std::size_t n = 0;
  for (const auto& entry : headers) n += iequals(entry.first, name);
  return n;
}

std::string_view to_string(ReadStatus status) {
  switch (status) {
    case ReadStatus::Ok:
      return "ok";
    case ReadStatus::Timeout:
      return "timeout";
    case ReadStatus::Closed:
      return "closed by the server";
    case ReadStatus::Reset:
      return "reset by the server";
    case ReadStatus::Malformed:
      return "malformed response";
  }
  return "?";
}

HttpConnection::HttpConnection(const std::string& host, std::uint16_t port) {
  sockaddr_storage addr{};
  socklen_t len = resolve(host, port, addr);
  fd_ = Fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd_) throw std::system_error(errno, std::generic_category(), "socket");
  if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), len) < 0) {
    throw std::system_error(errno, std::generic_category(),
                            "connect to " + host + ":" + std::to_string(port));
  }
  set_nodelay(fd_.get());
}

bool HttpConnection::send(std::string_view bytes) {
  while (!bytes.empty()) {
    // MSG_NOSIGNAL: a server that closed gives EPIPE here, not SIGPIPE.
    ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool HttpConnection::send_bytewise(std::string_view bytes, std::chrono::microseconds gap) {
  for (char c : bytes) {
    if (!send({&c, 1})) return false;
    std::this_thread::sleep_for(gap);
  }
  return true;
}

ReadStatus HttpConnection::fill(Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return ReadStatus::Timeout;
  pollfd p{fd_.get(), POLLIN, 0};
  int rc = ::poll(&p, 1, static_cast<int>(left));
  if (rc == 0 || (rc < 0 && errno == EINTR)) return rc == 0 ? ReadStatus::Timeout : ReadStatus::Ok;
  if (rc < 0) return ReadStatus::Reset;
  char chunk[kReadChunk];
  IoResult r = read_some(fd_.get(), {chunk, sizeof chunk});
  if (r.status == IoStatus::Ok) {
    buffer_.append(chunk, r.bytes);
    return ReadStatus::Ok;
  }
  if (r.status == IoStatus::Closed) return ReadStatus::Closed;
  if (r.status == IoStatus::Again) return ReadStatus::Ok;
  return ReadStatus::Reset;
}

ReadResult HttpConnection::read_response(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  ReadResult result;
  std::size_t head_end;
  while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (ReadStatus s = fill(deadline); s != ReadStatus::Ok) return {s, {}};
  }
  if (!parse_head(std::string_view(buffer_).substr(0, head_end), result.response)) {
    return {ReadStatus::Malformed, {}};
  }
  std::optional<std::string> length_text = result.response.header("Content-Length");
  std::uint64_t length = 0;
  if (!length_text) return {ReadStatus::Malformed, {}};
  auto [end, ec] =
      std::from_chars(length_text->data(), length_text->data() + length_text->size(), length);
  if (ec != std::errc{} || end != length_text->data() + length_text->size()) {
    return {ReadStatus::Malformed, {}};
  }
  const std::size_t body_start = head_end + 4;
  if (buffer_.capacity() < body_start + length) buffer_.reserve(body_start + length);
  while (buffer_.size() < body_start + length) {
    if (ReadStatus s = fill(deadline); s != ReadStatus::Ok) return {s, {}};
  }
  result.response.body = buffer_.substr(body_start, length);
  buffer_.erase(0, body_start + length);
  result.status = ReadStatus::Ok;
  return result;
}

std::string HttpConnection::read_raw(std::size_t max, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (buffer_.size() < max && fill(deadline) == ReadStatus::Ok) {
  }
  std::string out = buffer_.substr(0, max);
  buffer_.erase(0, out.size());
  return out;
}

HttpConnection::Rest HttpConnection::read_until_close(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Rest rest;
  while ((rest.how = fill(deadline)) == ReadStatus::Ok) {
  }
  rest.bytes = std::exchange(buffer_, {});
  return rest;
}

bool HttpConnection::wait_closed(std::chrono::milliseconds timeout) {
  return wait_close(timeout) != ReadStatus::Timeout;
}

ReadStatus HttpConnection::wait_close(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    buffer_.clear();  // discarded: only the close matters here
    if (ReadStatus s = fill(deadline); s != ReadStatus::Ok) return s;
  }
}

bool HttpConnection::stays_silent(std::chrono::milliseconds quiet) {
  const std::size_t before = buffer_.size();
  return fill(Clock::now() + quiet) == ReadStatus::Timeout && buffer_.size() == before;
}

void HttpConnection::close_write() {
  ::shutdown(fd_.get(), SHUT_WR);
}

void HttpConnection::reset() {
  linger abort{.l_onoff = 1, .l_linger = 0};
  setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  fd_.reset();
}

std::string get_request(std::string_view path, std::string_view extra_headers) {
  std::string r = "GET ";
  r.append(path).append(" HTTP/1.1\r\nHost: test\r\n").append(extra_headers).append("\r\n");
  return r;
}

std::string post_request(std::string_view path, std::string_view body,
                         std::string_view extra_headers) {
  std::string r = "POST ";
  r.append(path)
      .append(" HTTP/1.1\r\nHost: test\r\nContent-Length: ")
      .append(std::to_string(body.size()))
      .append("\r\n")
      .append(extra_headers)
      .append("\r\n")
      .append(body);
  return r;
}

}  // namespace iomodels::testing
