#include "servers/uring/proactor.hpp"

#include <poll.h>

#include <cstdio>

#include "servers/common/shutdown.hpp"

namespace iomodels::uring {
namespace {

constexpr unsigned kRingEntries = 4096;

}  // namespace

Proactor::Proactor(Fd listener, const http::SessionConfig& config)
    : sessions_(config),
      acceptor_(ring_, std::move(listener), [this](Fd fd) { add_connection(std::move(fd)); }),
      ring_(kRingEntries) {}

int Proactor::run() {
  arm_shutdown_poll();
  acceptor_.start();
  while (!stopping_ && !shutdown::requested()) {
    if (!ring_.submit_and_wait()) {
      std::perror("server-uring: io_uring_enter");
      return 1;
    }
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(ring_.get(), head, cqe) {
      complete(*cqe);
      ++seen;
    }
    io_uring_cq_advance(ring_.get(), seen);
  }
  // Nothing fails silently: what the sessions counted, and the events that
  // cost retries.
  std::fprintf(stderr,
               "server-uring: %s, %llu accept errors, %llu receives re-armed for want of a "
               "buffer\n",
               http::describe(sessions_.counters).c_str(),
               static_cast<unsigned long long>(acceptor_.errors()),
               static_cast<unsigned long long>(buffer_shortages_));
  return 0;
}

void Proactor::complete(const io_uring_cqe& cqe) {
  const Op op = op_of(cqe.user_data);
  switch (op) {
    case Op::Ignore:
      return;
    case Op::Shutdown:
      stopping_ = true;
      return;
    case Op::Accept:
      return acceptor_.on_accept(cqe.res, cqe.flags);
    case Op::AcceptRetry:
      return acceptor_.on_retry();
    case Op::Receive:
    case Op::Send:
    case Op::Timer:
      break;
  }
  auto& slot = connections_[static_cast<std::size_t>(fd_of(cqe.user_data))];
  slot->complete(op, cqe.res, cqe.flags);
  // Freed (and its fd closed) only now that nothing of it is in flight: only
  // then may the kernel hand its number to a new client, so no late
  // completion can reach the wrong one.
  if (slot->finished()) slot.reset();
}

void Proactor::add_connection(Fd fd) {
  const auto index = static_cast<std::size_t>(fd.get());
  if (index >= connections_.size()) connections_.resize(index + 1);
  connections_[index] = std::make_unique<Connection>(*this, std::move(fd));
  connections_[index]->start();
}

void Proactor::arm_shutdown_poll() {
  // The shutdown eventfd is non-blocking (the readiness models read it after
  // epoll), and io_uring answers a read of a non-blocking fd that has nothing
  // with -EAGAIN instead of waiting. So the ring waits for it to become
  // readable instead: the signal handler's write completes this poll.
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_poll_add(sqe, shutdown::event_fd(), POLLIN);
  io_uring_sqe_set_data64(sqe, tag(0, Op::Shutdown));
}

}  // namespace iomodels::uring
