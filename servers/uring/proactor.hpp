// Proactor: one io_uring and everything it serves, in one thread.
//
// Where epoll's Reactor asks "which sockets are ready?" and then does the
// read or write itself, this loop hands the kernel the operations to do
// ("accept on the listener, for ever", "receive on fd 7 into any free
// buffer", "send these bytes", "wake me in 10 ms") and is told when they are
// done: the proactor pattern. Every wait is one of these operations: a
// /sleep is a timeout, a deadline is a timeout linked to a receive, and
// SIGTERM is a poll of the shutdown eventfd.
//
// One turn of run(): submit what is queued and wait for a completion (one
// io_uring_enter), then hand every completion to its owner by its tag.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "net/fd.hpp"
#include "protocol/session.hpp"
#include "servers/uring/acceptor.hpp"
#include "servers/uring/connection.hpp"
#include "servers/uring/ring.hpp"

namespace iomodels::uring {

class Proactor {
 public:
  // Throws std::system_error if the ring or its buffers cannot be set up.
  Proactor(Fd listener, const http::SessionConfig& config);
  Proactor(const Proactor&) = delete;
  Proactor& operator=(const Proactor&) = delete;

  // Serves until SIGINT/SIGTERM; returns the exit status.
  int run();

  // For the connections of this ring.
  Ring& ring() { return ring_; }
  http::SessionContext& sessions() { return sessions_; }
  void count_buffer_shortage() { ++buffer_shortages_; }

 private:
  void complete(const io_uring_cqe& cqe);
  void add_connection(Fd fd);
  void arm_shutdown_poll();

  // Before the connections: their sessions give their parsers back to it.
  http::SessionContext sessions_;
  std::vector<std::unique_ptr<Connection>> connections_;  // indexed by fd
  Acceptor acceptor_;
  std::uint64_t buffer_shortages_ = 0;  // receives that found no free buffer
  bool stopping_ = false;
  // Declared last, so destroyed first: closing the ring cancels what is still
  // in flight before the connections it points into are freed.
  Ring ring_;
};

}  // namespace iomodels::uring
