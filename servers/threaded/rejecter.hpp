// Rejecter: what server-threaded does with a connection no worker can take
// (every pool thread busy and the accept queue full, or a thread that could
// not be started). Overload made visible, instead of silent waiting:
//
//  - the client gets "503 Service Unavailable" and Connection: close at once,
//    written by the acceptor without blocking (servers/common/busy_response);
//  - the close is a lingering one, as a session's after an error (the request
//    the client sent meanwhile is drained, so the kernel sends FIN, not a
//    reset that could destroy the 503 before the client reads it), done by
//    one closer thread so that a slow client never stalls accept(). If that
//    thread has more than kClosingQueue connections to close, the next is
//    closed at once;
//  - rejections are counted and logged on stderr at most once a second,
//    and the total at exit.
#pragma once

#include <pthread.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "net/fd.hpp"
#include "protocol/session_config.hpp"
#include "servers/threaded/connection_queue.hpp"
#include "servers/threaded/thread_start.hpp"

namespace iomodels {

class Rejecter {
 public:
  static constexpr std::size_t kClosingQueue = 256;

  // Starts the closer thread; throws std::system_error if it cannot.
  Rejecter(const http::SessionConfig& session, const ThreadOptions& threads);
  ~Rejecter();
  Rejecter(const Rejecter&) = delete;
  Rejecter& operator=(const Rejecter&) = delete;

  // Called by the acceptor thread only (the counters are not shared).
  void reject(Fd connection);

  // Waits for the closer thread; lingering closes end early once shutdown
  // was requested.
  void stop();

 private:
  void log_if_due(bool at_exit);

  const http::SessionConfig& session_;
  ConnectionQueue closing_{kClosingQueue};
  pthread_t closer_{};
  bool running_ = false;
  std::uint64_t total_ = 0;
  std::uint64_t unlogged_ = 0;
  std::chrono::steady_clock::time_point last_log_{};
};

}  // namespace iomodels
