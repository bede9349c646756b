// UringServer: the protocol on one io_uring, in one thread.
//
// Where the epoll loop asks "which sockets are ready?" and then does the
// read or write itself, this loop hands the kernel the operations to do
// ("accept on the listener, for ever", "receive on fd 7 into any free
// buffer", "send these bytes", "wake me in 10 ms") and is told when they are
// done. Every wait is one of these operations: a /sleep is a timeout, the
// header timeout is a timeout linked to a receive, and SIGTERM is a read of
// the shutdown eventfd. /cpu burns this thread, stalling every connection, as
// it stalls an epoll loop or Node.js.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "net/fd.hpp"
#include "protocol/request_parser.hpp"
#include "servers/uring/connection.hpp"
#include "servers/uring/ring.hpp"

namespace iomodels::uring {

struct ServerConfig {
  http::Limits limits;
  std::uint32_t header_timeout_ms = 10'000;
  std::string server_name;  // "iomodels-uring"
};

class UringServer {
 public:
  UringServer(Fd listener, ServerConfig config);
  // Serves until shutdown::request() (SIGINT/SIGTERM); returns the exit status.
  int run();

 private:
  // What a completion is about: the low byte of its user_data; the rest is
  // the connection's fd. Ignored completions (cancels, linked timeouts) carry
  // no fd, so they can never touch a connection freed meanwhile.
  enum Op : std::uint8_t { kIgnore, kAccept, kAcceptRetry, kShutdown, kReceive, kSend, kSleep };
  static std::uint64_t tag(int fd, Op op) { return (std::uint64_t(fd) << 8) | op; }

  void complete(const io_uring_cqe& cqe);
  void on_accept(int result, unsigned flags);
  void on_receive(Connection& c, int result, unsigned flags);
  void on_send(Connection& c, int result);
  void on_sleep_done(Connection& c);

  void arm_accept();
  void arm_accept_retry();
  void arm_shutdown_read();
  void arm_receive(Connection& c);
  void arm_sleep(Connection& c, std::uint32_t ms);

  // Parses and answers the requests in data, in order, until it runs out or
  // a request must wait (/sleep) or the connection must close.
  void handle_input(Connection& c, std::span<const char> data);
  // After input or a timer: the header timeout, the next send, the next receive.
  void resume(Connection& c);
  void start_send(Connection& c);
  void start_lingering_close(Connection& c);
  void close(Connection& c);
  void release_if_done(Connection& c);
  http::RequestParser take_parser();
  void give_back_parser(Connection& c);

  Fd listener_;
  ServerConfig config_;
  std::vector<std::unique_ptr<Connection>> connections_;  // indexed by fd
  std::vector<http::RequestParser> spare_parsers_;
  __kernel_timespec accept_retry_time_{};
  std::uint64_t accept_errors_ = 0;
  std::uint64_t buffer_shortages_ = 0;  // receives that found no free buffer
  bool stopping_ = false;
  // Declared last, so destroyed first: closing the ring cancels what is still
  // in flight before the connections it points into are freed.
  Ring ring_;
};

}  // namespace iomodels::uring
