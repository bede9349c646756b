#include "servers/threaded/rejecter.hpp"

#include <sys/socket.h>

#include <cstdio>
#include <system_error>

#include "protocol/output_queue.hpp"
#include "protocol/router.hpp"
#include "servers/common/blocking_session.hpp"

namespace iomodels {

Rejecter::Rejecter(std::string server_name, const ThreadOptions& threads)
    : server_name_(std::move(server_name)) {
  int rc = start_thread(
      threads,
      [this] {
        while (std::optional<Fd> connection = closing_.pop())
          lingering_close(std::move(*connection));
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
  send_503(connection.get());
  ++total_;
  ++unlogged_;
  log_if_due(false);
  // A full closing queue leaves the connection here: it closes at once.
  closing_.try_push(connection);
}

void Rejecter::send_503(int fd) const {
  http::Response busy;
  busy.status = 503;
  busy.body = "server busy: every worker thread is serving a client and the accept queue is full\n";
  busy.close = true;
  http::OutputQueue out;
  http::serialize(busy, server_name_, out);
  iovec iov[4];
  msghdr message{};
  message.msg_iov = iov;
  message.msg_iovlen = static_cast<std::size_t>(out.gather(iov, 4));
  // MSG_DONTWAIT: never block the acceptor on one client. MSG_NOSIGNAL: a
  // client that already left gives EPIPE, not SIGPIPE. A failure changes
  // nothing: the client is refused either way.
  [[maybe_unused]] ssize_t n = ::sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
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
