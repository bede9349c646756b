#include "net/socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

namespace iomodels {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

IoResult classify(ssize_t n) {
  if (n > 0) return {IoStatus::Ok, static_cast<std::size_t>(n), 0};
  if (n == 0) return {IoStatus::Closed, 0, 0};
  if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoStatus::Again, 0, errno};
  return {IoStatus::Error, 0, errno};
}

}  // namespace

IoResult read_some(int fd, std::span<char> buf) {
  ssize_t n;
  do n = ::read(fd, buf.data(), buf.size());
  while (n < 0 && errno == EINTR);
  return classify(n);
}

IoResult write_some(int fd, std::span<const char> buf) {
  ssize_t n;
  do n = ::write(fd, buf.data(), buf.size());
  while (n < 0 && errno == EINTR);
  // write() of a non-empty buffer never returns 0; treat it as progress-free.
  if (n == 0) return {IoStatus::Again, 0, 0};
  return classify(n);
}

IoResult writev_some(int fd, const iovec* iov, int count) {
  ssize_t n;
  do n = ::writev(fd, iov, count);
  while (n < 0 && errno == EINTR);
  if (n == 0) return {IoStatus::Again, 0, 0};
  return classify(n);
}

void ignore_sigpipe() {
  struct sigaction action {};
  action.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &action, nullptr);
}

void set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) throw_errno("fcntl(O_NONBLOCK)");
}

void set_nodelay(int fd) {
  int one = 1;
  // Fails only for non-TCP sockets (a Unix socket in a test); nothing to do then.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

socklen_t resolve(const std::string& host, std::uint16_t port, sockaddr_storage& addr) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  // "[::1]" is how URLs and our own log lines write an IPv6 address.
  std::string name = host;
  if (name.size() > 2 && name.front() == '[' && name.back() == ']')
    name = name.substr(1, name.size() - 2);
  int rc = getaddrinfo(name.c_str(), service.c_str(), &hints, &found);
  if (rc != 0) {
    throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                            "cannot resolve host '" + host + "': " + gai_strerror(rc));
  }
  socklen_t len = found->ai_addrlen;
  std::memcpy(&addr, found->ai_addr, len);
  freeaddrinfo(found);
  return len;
}

Fd listen_tcp(const ListenOptions& options) {
  sockaddr_storage addr{};
  socklen_t len = resolve(options.host, options.port, addr);
  int type = SOCK_STREAM | SOCK_CLOEXEC | (options.nonblocking ? SOCK_NONBLOCK : 0);
  Fd fd(::socket(addr.ss_family, type, 0));
  if (!fd) throw_errno("socket");
  int one = 1;
  // SO_REUSEADDR: a restarted server can bind while old connections of the
  // previous one sit in TIME_WAIT, as every benchmark point restarts it.
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (options.reuse_port && setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    throw_errno("setsockopt(SO_REUSEPORT)");
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) < 0) {
    throw_errno("cannot bind " + options.host + ":" + std::to_string(options.port));
  }
  if (::listen(fd.get(), options.backlog) < 0) throw_errno("listen");
  return fd;
}

std::string local_address(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0) throw_errno("getsockname");
  char host[INET6_ADDRSTRLEN] = "?";
  std::uint16_t port = 0;
  if (addr.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
    // Built with append(): GCC 12 warns falsely (-Wrestrict) on "[" + string.
    std::string text = "[";
    text.append(host).append("]:").append(std::to_string(port));
    return text;
  }
  auto* in4 = reinterpret_cast<sockaddr_in*>(&addr);
  inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host);
  port = ntohs(in4->sin_port);
  return std::string(host) + ":" + std::to_string(port);
}

std::uint16_t local_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0) throw_errno("getsockname");
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

FdLimit raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) < 0) throw_errno("getrlimit(RLIMIT_NOFILE)");
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    // May fail inside some containers; the old soft limit then stays in force.
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return {static_cast<std::uint64_t>(limit.rlim_cur), static_cast<std::uint64_t>(limit.rlim_max)};
}

}  // namespace iomodels
