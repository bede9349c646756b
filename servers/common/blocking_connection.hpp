// One connection served with blocking I/O, from the first byte to close: the
// whole of what server-blocking does per client, and what each worker of
// server-threaded does. The exchange itself is the session's
// (protocol/session.hpp); this is only how a thread carries out its steps:
//
//   step           what the thread does
//   -------------  ---------------------------------------------------------
//   Write          writev(), blocking until the socket takes it all
//                  (SO_SNDTIMEO while the step has a deadline)
//   BurnCpu        burns the CPU right here: other threads run meanwhile
//   ShutdownWrite  shutdown(SHUT_WR)
//   Wait, reading  read(), blocking (SO_RCVTIMEO while the step has a deadline)
//   Wait, not      sleeps until the deadline: a /sleep blocks the thread
//   Close          returns; the Fd closes the socket
#pragma once

#include <memory>
#include <string_view>

#include "net/fd.hpp"
#include "protocol/session.hpp"

namespace iomodels {

// What one thread of a blocking model keeps from one connection to the next:
// the sessions' shared context (parsers, scratch queue, counters) and a read
// buffer.
class BlockingThread {
 public:
  explicit BlockingThread(const http::SessionConfig& config);

  http::SessionContext& context() { return context_; }
  const http::SessionCounters& counters() const { return context_.counters; }
  std::span<char> read_buffer() { return {buffer_.get(), kReadBuffer}; }

 private:
  static constexpr std::size_t kReadBuffer = 16 * 1024;
  http::SessionContext context_;
  std::unique_ptr<char[]> buffer_;
};

void serve_blocking_connection(Fd connection, BlockingThread& thread);

// A connection that was answered without a session (a 503 from an overloaded
// acceptor): closed the way a session closes after an error, lingering.
void close_refused_connection(Fd connection, BlockingThread& thread);

// accept() on a blocking listener, as server-blocking's loop and
// server-threaded's acceptor do it: the connection, or an invalid Fd when
// there is none for now. Out of descriptors or memory (EMFILE, ENFILE,
// ENOBUFS, ENOMEM) it waits 100 ms instead of spinning, and says so on
// stderr at most once a second.
Fd accept_blocking(int listener, std::string_view model);

}  // namespace iomodels
