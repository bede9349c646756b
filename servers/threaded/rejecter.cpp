#include "servers/threaded/rejecter.hpp"

#include <cstdio>
#include <system_error>

#include "servers/common/blocking_connection.hpp"
#include "servers/common/busy_response.hpp"

namespace iomodels {

Rejecter::Rejecter(const http::SessionConfig& session, const ThreadOptions& threads)
    : session_(session) {
  int rc = start_thread(
      threads,
      [this] {
        BlockingThread closer(session_);
        while (std::optional<Fd> connection = closing_.pop())
          close_refused_connection(std::move(*connection), closer);
      },
      &closer_);
  if (rc != 0)
    throw std::system_error(rc, std::generic_category(), "cannot start the closer thread");
  running_ = true;
}

Rejecter::~Rejecter() {
  stop();
}

void Rejecter::stop() {
  if (!running_) return;
  closing_.close();
  pthread_join(closer_, nullptr);
  running_ = false;
  log_if_due(true);
}

void Rejecter::reject(Fd connection) {
  send_busy(connection.get(), session_.server_name,
            "server busy: every worker thread is serving a client and the accept queue is full\n");
  ++total_;
  ++unlogged_;
  log_if_due(false);
  // A full closing queue leaves the connection here: it closes at once.
  closing_.try_push(connection);
}

void Rejecter::log_if_due(bool at_exit) {
  auto now = std::chrono::steady_clock::now();
  if (unlogged_ == 0 || (!at_exit && now - last_log_ < std::chrono::seconds(1))) return;
  std::fprintf(stderr,
               "server-threaded: no free worker and the queue is full: answered 503 to %llu "
               "connection(s) since the last report, %llu in all\n",
               static_cast<unsigned long long>(unlogged_), static_cast<unsigned long long>(total_));
  unlogged_ = 0;
  last_log_ = now;
}

}  // namespace iomodels
