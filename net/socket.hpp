// Socket helpers shared by the servers and the load generator. Start-up
// failures (bad address, port in use) throw std::system_error with a message
// a user can act on; the I/O path returns an IoResult instead of throwing.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "net/fd.hpp"

namespace iomodels {

enum class IoStatus { Ok, Again, Closed, Error };

struct IoResult {
  IoStatus status;
  std::size_t bytes;  // bytes moved when Ok
  int error;          // errno when Error
};

// read()/write()/writev() with EINTR retried and the outcome classified.
IoResult read_some(int fd, std::span<char> buf);
IoResult write_some(int fd, std::span<const char> buf);
IoResult writev_some(int fd, const iovec* iov, int count);

// SIGPIPE's default action kills the process when a peer has gone away and we
// write; every binary calls this once at start and handles EPIPE instead.
void ignore_sigpipe();

void set_nonblocking(int fd);
// Nagle's algorithm holds a small write back until the previous one is
// acknowledged; with delayed ACK on the other side that is up to 40 ms per
// response. Every connection of this project turns it off.
void set_nodelay(int fd);

struct ListenOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0 lets the kernel pick a free port
  int backlog = 4096;
  bool reuse_port = false;  // one listener per event loop (nginx shape)
  bool nonblocking = false;
};

// Resolves host (numeric or a name), binds with SO_REUSEADDR and listens.
Fd listen_tcp(const ListenOptions& options);

// The address a socket is bound to, "HOST:PORT" (IPv6 as "[::1]:PORT").
std::string local_address(int fd);
std::uint16_t local_port(int fd);

// Fills addr with host:port; throws std::system_error if it does not resolve.
socklen_t resolve(const std::string& host, std::uint16_t port, sockaddr_storage& addr);

struct FdLimit {
  std::uint64_t soft;
  std::uint64_t hard;
};
// Raises the soft RLIMIT_NOFILE to the hard limit (which an unprivileged
// process, or a container, may not raise) and returns the result.
FdLimit raise_fd_limit();

}  // namespace iomodels
