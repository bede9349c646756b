#include "microbench/loopback_connections.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <system_error>

#include "net/socket.hpp"

namespace iomodels::microbench {

namespace {

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// Closing with SO_LINGER {1, 0} sends a reset instead of a FIN, so that
// thousands of benchmark connections leave no TIME_WAIT entries behind to
// take the loopback ports the other programs on this machine need.
void abort_on_close(int fd) {
  linger option{.l_onoff = 1, .l_linger = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, sizeof option);
}

}  // namespace

void LoopbackConnections::grow(std::size_t connections) {
  if (connections <= this->connections()) return;
  Fd listener = listen_tcp({.host = "127.0.0.1", .port = 0, .backlog = 128});
  sockaddr_storage address{};
  const socklen_t length = resolve("127.0.0.1", local_port(listener.get()), address);

  ends_.reserve(2 * connections);
  while (this->connections() < connections) {
    Fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!client) fail("socket");
    abort_on_close(client.get());
    // On loopback the handshake completes inside connect(), so a blocking
    // connect followed by accept never waits.
    if (::connect(client.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
      fail("connect to loopback listener");
    }
    Fd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!server) fail("accept");
    abort_on_close(server.get());
    ends_.push_back(std::move(client));
    ends_.push_back(std::move(server));
  }
}

LoopbackConnections& shared_idle_connections() {
  static LoopbackConnections pool;
  return pool;
}

}  // namespace iomodels::microbench
