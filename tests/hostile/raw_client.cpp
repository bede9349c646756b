#include "tests/hostile/raw_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

namespace iomodels::hostile {
namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

bool wait_for(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, timeout_ms) > 0;
}

}  // namespace

Fd connect_nonblocking(std::uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fd;
  sockaddr_in addr = loopback(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 &&
      errno != EINPROGRESS) {
    return Fd();
  }
  return fd;
}

Fd connect_loopback(std::uint16_t port, int timeout_ms) {
  Fd fd = connect_nonblocking(port);
  if (!fd || !wait_for(fd.get(), POLLOUT, timeout_ms)) return Fd();
  int error = 0;
  socklen_t len = sizeof error;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) return Fd();
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // The calls below wait with poll(); the socket stays non-blocking so that
  // no read or write can outlive its timeout.
  return fd;
}

bool send_all(int fd, std::string_view data, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(fd, POLLOUT, ms_left(deadline))) return false;
    } else {
      return false;
    }
  }
  return true;
}

void reset_connection(Fd fd) {
  linger l{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  // fd's destructor closes: with a zero linger time that sends RST.
}

std::string HttpResponse::header(std::string_view name) const {
  std::size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos + 2 < head.size()) {
    std::size_t start = pos + 2;
    std::size_t end = head.find("\r\n", start);
    std::string_view line(head.data() + start, (end == std::string::npos ? head.size() : end) - start);
    auto colon = line.find(':');
    if (colon == name.size() && ::strncasecmp(line.data(), name.data(), name.size()) == 0) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      return std::string(value);
    }
    pos = end;
  }
  return "";
}

std::optional<HttpResponse> read_response(int fd, std::string& pending, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  HttpResponse r;
  std::size_t head_end = std::string::npos;
  std::size_t length = 0;
  char buf[65536];
  while (true) {
    if (head_end == std::string::npos && (head_end = pending.find("\r\n\r\n")) != std::string::npos) {
      r.head = pending.substr(0, head_end);
      pending.erase(0, head_end + 4);
      if (r.head.rfind("HTTP/1.", 0) != 0 || r.head.size() < 12) return std::nullopt;
      r.status = std::atoi(r.head.c_str() + 9);
      std::string cl = r.header("Content-Length");
      if (cl.empty()) return std::nullopt;
      length = std::stoull(cl);
      r.close = ::strcasecmp(r.header("Connection").c_str(), "close") == 0;
    }
    if (head_end != std::string::npos && pending.size() >= length) {
      r.body = pending.substr(0, length);
      pending.erase(0, length);
      return r;
    }
    if (!wait_for(fd, POLLIN, ms_left(deadline))) return std::nullopt;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return std::nullopt;
    pending.append(buf, static_cast<std::size_t>(n));
  }
}

bool wait_for_close(int fd, int timeout_ms, std::string* seen) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[65536];
  while (true) {
    if (!wait_for(fd, POLLIN, ms_left(deadline))) return false;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return true;  // EOF, or a reset: closed either way
    if (seen && seen->size() < (1u << 20)) seen->append(buf, static_cast<std::size_t>(n));
  }
}

std::optional<HttpResponse> get_once(std::uint16_t port, std::string_view path, int timeout_ms) {
  Fd fd = connect_loopback(port, timeout_ms);
  if (!fd) return std::nullopt;
  std::string request = "GET " + std::string(path) + " HTTP/1.1\r\nHost: hostile\r\n\r\n";
  if (!send_all(fd.get(), request, timeout_ms)) return std::nullopt;
  std::string pending;
  return read_response(fd.get(), pending, timeout_ms);
}

}  // namespace iomodels::hostile
