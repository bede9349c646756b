#include "servers/uring/connection.hpp"

#include <cerrno>

#include "net/socket.hpp"
#include "servers/common/simulated_work.hpp"
#include "servers/uring/proactor.hpp"

namespace iomodels::uring {
namespace {

using http::Clock;
using http::Do;

__kernel_timespec time_left(Clock::time_point deadline) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now()).count();
  if (ns < 1) ns = 1;  // a deadline already passed fires at once
  return {.tv_sec = ns / 1'000'000'000, .tv_nsec = ns % 1'000'000'000};
}

}  // namespace

Connection::Connection(Proactor& proactor, Fd fd)
    : proactor_(proactor), fd_(std::move(fd)), session_(proactor.sessions(), Clock::now()) {}

void Connection::start() {
  set_nodelay(fd_.get());
  proceed();
}

void Connection::complete(Op op, int result, unsigned flags) {
  switch (op) {
    case Op::Receive:
      in_flight_ &= ~kReceiving;
      return on_receive(result, flags);
    case Op::Send:
      in_flight_ &= ~kSending;
      return on_send(result);
    case Op::Timer:
      in_flight_ &= ~kTiming;
      if (phase_ == Phase::Closing) return;
      session_.expired(Clock::now());  // -ETIME, the deadline; or a cancel, harmless
      return proceed();
    default:
      return;
  }
}

void Connection::on_receive(int result, unsigned flags) {
  // Whatever happens below, the buffer goes back to the kernel's ring: the
  // session copies what it keeps.
  struct GiveBack {
    Ring& ring;
    bool active;
    unsigned id;
    ~GiveBack() {
      if (active) ring.give_back(id);
    }
  } give_back{proactor_.ring(), (flags & IORING_CQE_F_BUFFER) != 0,
              flags >> IORING_CQE_BUFFER_SHIFT};

  if (phase_ == Phase::Closing) return;
  const Clock::time_point now = Clock::now();
  if (result == -ENOBUFS) {
    // Every provided buffer was taken in this batch; they are all back by
    // the time this receive is submitted again (proceed() re-arms it).
    proactor_.count_buffer_shortage();
  } else if (result == -ECANCELED) {
    session_.expired(now);  // the linked timeout fired first
  } else if (result == 0) {
    session_.end_of_input(now);
  } else if (result < 0 || !give_back.active) {
    session_.failed();  // ECONNRESET and friends
  } else {
    session_.received(proactor_.ring().buffer(give_back.id, static_cast<std::size_t>(result)), now);
  }
  proceed();
}

void Connection::on_send(int result) {
  if (phase_ == Phase::Closing) return;
  if (result < 0) {
    session_.failed();  // EPIPE, ECONNRESET: the client is gone
  } else {
    // A short send just leaves the rest in sending_ for the next one.
    sending_.consume(static_cast<std::size_t>(result));
    session_.sent(static_cast<std::size_t>(result));
    // All sent: an idle connection keeps no output buffer. The price is an
    // allocation or two for the next answer; server-epoll avoids it by
    // writing straight from the shared scratch queue, which a send the
    // kernel may still be reading rules out here.
    if (sending_.empty()) sending_.release_memory();
  }
  proceed();
}

// After any completion: the session's steps, until one has to wait.
void Connection::proceed() {
  if (phase_ == Phase::Closing) return;
  for (;;) {
    const http::Step step = session_.next(Clock::now());
    switch (step.what) {
      case Do::Write:
        if (!(in_flight_ & kSending)) start_send();
        return wait(step);
      case Do::BurnCpu:
        // The earlier answers are on their way (Write comes first); what is
        // queued goes to the kernel before this thread stalls every
        // connection of the ring, as it stalls an epoll loop.
        proactor_.ring().submit();
        if (!stoppable_burn_cpu(step.cpu_us)) return;  // shutting down
        session_.work_done(Clock::now());
        continue;
      case Do::ShutdownWrite:
        ::shutdown(fd_.get(), SHUT_WR);
        continue;
      case Do::Wait:
        return wait(step);
      case Do::Close:
        return close();
    }
  }
}

// What the step waits for, unless it is in flight already. (A receive in
// flight keeps the deadline it was armed with: the session's deadlines only
// change when input arrives, and that ends the receive.)
void Connection::wait(const http::Step& step) {
  if (step.read && !(in_flight_ & kReceiving)) arm_receive(step.deadline);
  if (!step.read && step.deadline != http::kNoDeadline && !(in_flight_ & kTiming)) {
    arm_timer(step.deadline);
  }
}

void Connection::arm_receive(Clock::time_point deadline) {
  // With a deadline the receive is linked to a timeout: if the timeout fires
  // first, the kernel cancels the receive (-ECANCELED).
  const bool timed = deadline != http::kNoDeadline;
  Ring& ring = proactor_.ring();
  io_uring_sqe* sqe = ring.sqe(timed ? 2 : 1);
  // No buffer of ours: the kernel takes one from the provided-buffer ring.
  io_uring_prep_recv(sqe, fd_.get(), nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = Ring::kBufferGroup;
  io_uring_sqe_set_data64(sqe, tag(fd_.get(), Op::Receive));
  if (timed) {
    sqe->flags |= IOSQE_IO_LINK;
    receive_time_ = time_left(deadline);
    io_uring_sqe* timeout = ring.sqe();
    io_uring_prep_link_timeout(timeout, &receive_time_, 0);
    io_uring_sqe_set_data64(timeout, tag(0, Op::Ignore));
  }
  in_flight_ |= kReceiving;
}

void Connection::arm_timer(Clock::time_point deadline) {
  timer_time_ = time_left(deadline);
  io_uring_sqe* sqe = proactor_.ring().sqe();
  io_uring_prep_timeout(sqe, &timer_time_, 0, 0);
  io_uring_sqe_set_data64(sqe, tag(fd_.get(), Op::Timer));
  in_flight_ |= kTiming;
}

void Connection::start_send() {
  // The owed bytes move into sending_, where nothing moves them until the
  // kernel has taken them; a short send leaves the rest there.
  if (sending_.empty()) session_.take_output(sending_);
  message_ = {};
  message_.msg_iov = iov_;
  message_.msg_iovlen = static_cast<std::size_t>(sending_.gather(iov_, kMaxIov));
  io_uring_sqe* sqe = proactor_.ring().sqe();
  io_uring_prep_sendmsg(sqe, fd_.get(), &message_, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, tag(fd_.get(), Op::Send));
  in_flight_ |= kSending;
}

void Connection::close() {
  phase_ = Phase::Closing;
  // The kernel still holds the operations in flight (and pointers into this
  // object): cancel them; the proactor frees it when the last has completed.
  Ring& ring = proactor_.ring();
  if (in_flight_ & (kReceiving | kSending)) {
    io_uring_sqe* sqe = ring.sqe();
    io_uring_prep_cancel_fd(sqe, fd_.get(), IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, tag(0, Op::Ignore));
  }
  if (in_flight_ & kTiming) {
    io_uring_sqe* sqe = ring.sqe();
    io_uring_prep_cancel64(sqe, tag(fd_.get(), Op::Timer), 0);
    io_uring_sqe_set_data64(sqe, tag(0, Op::Ignore));
  }
}

}  // namespace iomodels::uring
