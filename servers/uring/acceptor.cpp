#include "servers/uring/acceptor.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "servers/common/shutdown.hpp"
#include "servers/uring/operation.hpp"

namespace iomodels::uring {

Acceptor::Acceptor(Ring& ring, Fd listener, OnConnection on_connection)
    : ring_(ring), listener_(std::move(listener)), on_connection_(std::move(on_connection)) {}

void Acceptor::start() {
  // One SQE accepts every connection until it fails: no re-arming per client.
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_multishot_accept(sqe, listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, tag(0, Op::Accept));
}

void Acceptor::on_accept(int result, unsigned flags) {
  const bool more = flags & IORING_CQE_F_MORE;
  if (result >= 0) {
    on_connection_(Fd(result));
  } else if (result != -ECANCELED) {
    // EMFILE/ENFILE when out of descriptors, ECONNABORTED for a client gone
    // before we took it: counted and logged sparingly, never fatal.
    if (errors_++ % 1000 == 0) {
      std::fprintf(stderr, "server-uring: accept: %s (%llu errors so far)\n",
                   std::strerror(-result), static_cast<unsigned long long>(errors_));
    }
    if (!more &&
        (result == -EMFILE || result == -ENFILE || result == -ENOBUFS || result == -ENOMEM)) {
      retry_time_ = {.tv_sec = 0, .tv_nsec = 100'000'000};
      io_uring_sqe* sqe = ring_.sqe();
      io_uring_prep_timeout(sqe, &retry_time_, 0, 0);
      io_uring_sqe_set_data64(sqe, tag(0, Op::AcceptRetry));
      return;
    }
  }
  if (!more && !shutdown::requested()) start();
}

void Acceptor::on_retry() {
  start();
}

}  // namespace iomodels::uring
