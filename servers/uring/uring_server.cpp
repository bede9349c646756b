#include "servers/uring/uring_server.hpp"

#include <sys/socket.h>

#include <poll.h>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "net/socket.hpp"
#include "protocol/router.hpp"
#include "servers/common/shutdown.hpp"
#include "servers/common/simulated_work.hpp"

namespace iomodels::uring {
namespace {

using namespace std::chrono_literals;

constexpr unsigned kRingEntries = 4096;
// A client that pipelines requests but does not read the answers: stop
// receiving from it while this much output is unsent, as a blocking server
// stops while its write blocks. Otherwise its answers would pile up here.
constexpr std::uint64_t kOutputHighWater = 256 * 1024;
// Lingering close: how long and how much we read and discard at most (the
// same bounds as servers/common/blocking_session.cpp).
constexpr auto kLingerTime = 1000ms;
constexpr std::size_t kLingerBytes = 1 << 20;
// After EMFILE/ENFILE the pending connection stays in the backlog and the
// listener stays readable: re-arming at once would spin. Wait a little.
constexpr auto kAcceptRetryDelay = 100ms;
// Parsers kept for reuse: enough for the connections that are mid-request at
// once under load; past a burst of slow clients the extra ones are freed.
constexpr std::size_t kMaxSpareParsers = 256;

__kernel_timespec to_timespec(Clock::duration d) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  if (ns < 1) ns = 1;  // a deadline already passed fires at once
  return {ns / 1'000'000'000, ns % 1'000'000'000};
}

}  // namespace

UringServer::UringServer(Fd listener, ServerConfig config)
    : listener_(std::move(listener)), config_(std::move(config)), ring_(kRingEntries) {}

int UringServer::run() {
  arm_shutdown_read();
  arm_accept();
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
  // Nothing fails silently: the events that cost retries, for the log.
  std::fprintf(stderr,
               "server-uring: %llu accept errors, %llu receives re-armed for want of a buffer\n",
               static_cast<unsigned long long>(accept_errors_),
               static_cast<unsigned long long>(buffer_shortages_));
  return 0;
}

void UringServer::complete(const io_uring_cqe& cqe) {
  const auto op = static_cast<Op>(cqe.user_data & 0xff);
  const auto fd = static_cast<std::size_t>(cqe.user_data >> 8);
  switch (op) {
    case kIgnore:
      return;
    case kShutdown:
      stopping_ = true;
      return;
    case kAccept:
      on_accept(cqe.res, cqe.flags);
      return;
    case kAcceptRetry:
      arm_accept();
      return;
    default:
      break;
  }
  Connection& c = *connections_[fd];
  --c.in_flight;
  if (op == kReceive) {
    c.receiving = false;
    on_receive(c, cqe.res, cqe.flags);
  } else if (op == kSend) {
    c.send_in_flight = false;
    on_send(c, cqe.res);
  } else if (op == kSleep) {
    c.sleeping = false;
    on_sleep_done(c);
  }
  release_if_done(c);
}

// ---- accepting ----------------------------------------------------------

void UringServer::arm_accept() {
  // One SQE accepts every connection until it fails: no re-arming per client.
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_multishot_accept(sqe, listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, tag(0, kAccept));
}

void UringServer::arm_accept_retry() {
  accept_retry_time_ = to_timespec(kAcceptRetryDelay);
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_timeout(sqe, &accept_retry_time_, 0, 0);
  io_uring_sqe_set_data64(sqe, tag(0, kAcceptRetry));
}

void UringServer::on_accept(int result, unsigned flags) {
  const bool more = flags & IORING_CQE_F_MORE;
  if (result >= 0) {
    Fd socket(result);
    set_nodelay(result);
    if (static_cast<std::size_t>(result) >= connections_.size()) connections_.resize(result + 1);
    auto& slot = connections_[result];
    slot = std::make_unique<Connection>(std::move(socket));
    arm_receive(*slot);
  } else if (result != -ECANCELED) {
    // EMFILE/ENFILE when out of descriptors, ECONNABORTED for a client gone
    // before we took it: counted and logged sparingly, never fatal.
    if (accept_errors_++ % 1000 == 0) {
      std::fprintf(stderr, "server-uring: accept: %s (%llu errors so far)\n",
                   std::strerror(-result), static_cast<unsigned long long>(accept_errors_));
    }
    if (!more &&
        (result == -EMFILE || result == -ENFILE || result == -ENOBUFS || result == -ENOMEM)) {
      arm_accept_retry();
      return;
    }
  }
  if (!more && !stopping_) arm_accept();
}

// ---- shutdown -----------------------------------------------------------

void UringServer::arm_shutdown_read() {
  // The shutdown eventfd is non-blocking (other models read it after
  // epoll), and io_uring answers a read of a non-blocking fd that has nothing
  // with -EAGAIN instead of waiting. So the ring waits for it to become
  // readable instead: the signal handler's write completes this poll.
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_poll_add(sqe, shutdown::event_fd(), POLLIN);
  io_uring_sqe_set_data64(sqe, tag(0, kShutdown));
}

// ---- receiving and answering --------------------------------------------

void UringServer::arm_receive(Connection& c) {
  // A receive is linked to a timeout while a deadline runs: the header
  // timeout of a half-received request, or the end of a lingering close. If
  // the timeout fires first, the kernel cancels the receive (-ECANCELED).
  const bool timed = c.lingering || c.timing_header;
  io_uring_sqe* sqe = ring_.sqe(timed ? 2 : 1);
  // No buffer of ours: the kernel takes one from the provided-buffer ring.
  io_uring_prep_recv(sqe, c.fd.get(), nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = Ring::kBufferGroup;
  io_uring_sqe_set_data64(sqe, tag(c.fd.get(), kReceive));
  if (timed) {
    sqe->flags |= IOSQE_IO_LINK;
    const Clock::time_point deadline = c.lingering ? c.linger_deadline : c.header_deadline;
    c.receive_time = to_timespec(deadline - Clock::now());
    io_uring_sqe* timeout = ring_.sqe();
    io_uring_prep_link_timeout(timeout, &c.receive_time, 0);
    io_uring_sqe_set_data64(timeout, tag(0, kIgnore));
  }
  c.receiving = true;
  ++c.in_flight;
}

void UringServer::on_receive(Connection& c, int result, unsigned flags) {
  const bool has_buffer = flags & IORING_CQE_F_BUFFER;
  const unsigned buffer_id = flags >> IORING_CQE_BUFFER_SHIFT;
  // Whatever happens below, the buffer goes back to the kernel's ring: input
  // the parser has not consumed is copied out (Connection::unparsed).
  struct GiveBack {
    Ring& ring;
    bool active;
    unsigned id;
    ~GiveBack() {
      if (active) ring.give_back(id);
    }
  } give_back{ring_, has_buffer, buffer_id};

  if (c.closing) return;
  if (result == -ENOBUFS) {
    // Every provided buffer was taken in this batch; they are all back by
    // the time this receive is submitted again.
    ++buffer_shortages_;
    arm_receive(c);
    return;
  }
  if (c.lingering) {
    if (result > 0) c.linger_bytes += static_cast<std::size_t>(result);
    // EOF (the client read our answer and closed), an error, the deadline
    // (-ECANCELED) or enough discarded: done.
    if (result > 0 && c.linger_bytes < kLingerBytes) {
      arm_receive(c);
    } else {
      close(c);
    }
    return;
  }
  if (result == -ECANCELED && c.timing_header) {
    // The linked timeout fired: the header section did not arrive in time.
    c.timing_header = false;
    http::serialize(http::error_response(408), config_.server_name, c.queued);
    c.close_after_send = c.linger_after_send = true;
    start_send(c);
    return;
  }
  if (result == 0 && c.pending_output() > 0) {
    // The client has sent all it will (a half close) but may still read:
    // answer what it asked, then close.
    c.close_after_send = true;
    return;
  }
  if (result <= 0 || !has_buffer) {
    close(c);  // EOF, or ECONNRESET and friends
    return;
  }
  handle_input(c, ring_.buffer(buffer_id, static_cast<std::size_t>(result)));
  resume(c);
}

void UringServer::handle_input(Connection& c, std::span<const char> data) {
  if (data.empty()) return;
  if (!c.parser) c.parser = take_parser();
  http::RequestParser& parser = *c.parser;
  while (!data.empty() && !c.close_after_send && !stopping_) {
    http::ParseResult parsed = parser.parse(data);
    data = data.subspan(parsed.consumed);
    c.parser_has_partial = parsed.status == http::ParseStatus::NeedMore;
    if (parsed.status == http::ParseStatus::NeedMore) break;
    if (parsed.status == http::ParseStatus::Error) {
      http::serialize(http::error_response(parser.error_status()), config_.server_name, c.queued);
      c.close_after_send = c.linger_after_send = true;
      break;
    }
    http::Plan plan = http::route(parser.request(), config_.limits);
    if (plan.action == http::Action::SleepThenRespond) {
      // The rest waits behind this answer, so answers stay in order.
      c.sleeping_plan = plan;
      c.unparsed.assign(data.begin(), data.end());
      arm_sleep(c, plan.sleep_ms);
      return;
    }
    if (plan.action == http::Action::BurnCpuThenRespond) {
      // The earlier answers leave before the thread stalls.
      start_send(c);
      ring_.submit();
      if (!stoppable_burn_cpu(plan.cpu_us)) {
        stopping_ = true;
        return;
      }
    }
    http::serialize(plan.response, config_.server_name, c.queued);
    if (plan.response.close) {
      c.close_after_send = true;
      c.linger_after_send = plan.response.status >= 400;
    }
  }
}

void UringServer::resume(Connection& c) {
  if (c.closing) return;
  const bool waiting_for_header =
      c.parser && c.parser->in_progress() && !c.parser->headers_complete() && !c.close_after_send;
  if (waiting_for_header && !c.timing_header) {
    c.timing_header = true;
    c.header_deadline = Clock::now() + std::chrono::milliseconds(config_.header_timeout_ms);
  } else if (!waiting_for_header) {
    c.timing_header = false;
  }
  // Between two requests (or with nothing more to parse) the parser goes
  // back to the pool: an idle connection holds none.
  if (c.parser && (!c.parser_has_partial || c.close_after_send)) give_back_parser(c);
  start_send(c);
  if (!c.receiving && !c.sleeping && !c.close_after_send && !c.lingering &&
      c.pending_output() < kOutputHighWater) {
    arm_receive(c);
  }
}

// ---- /sleep ---------------------------------------------------------------

void UringServer::arm_sleep(Connection& c, std::uint32_t ms) {
  c.sleep_time = to_timespec(std::chrono::milliseconds(ms));
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_timeout(sqe, &c.sleep_time, 0, 0);
  io_uring_sqe_set_data64(sqe, tag(c.fd.get(), kSleep));
  c.sleeping = true;
  ++c.in_flight;
}

void UringServer::on_sleep_done(Connection& c) {
  if (c.closing) return;
  const http::Response& response = c.sleeping_plan.response;
  http::serialize(response, config_.server_name, c.queued);
  if (response.close) {
    c.close_after_send = true;
    c.linger_after_send = response.status >= 400;
  }
  // What arrived behind the /sleep request is answered now, in order.
  std::string rest = std::move(c.unparsed);
  c.unparsed.clear();
  handle_input(c, rest);
  resume(c);
}

// ---- sending --------------------------------------------------------------

void UringServer::start_send(Connection& c) {
  if (c.send_in_flight || c.closing) return;
  if (c.sending.empty()) {
    if (c.queued.empty()) return;
    // The queued answers become the frozen ones; the old, empty queue
    // (with its buffer's capacity) collects the next answers.
    std::swap(c.sending, c.queued);
  }
  c.message = {};
  c.message.msg_iov = c.iov;
  c.message.msg_iovlen = static_cast<std::size_t>(c.sending.gather(c.iov, Connection::kMaxIov));
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_sendmsg(sqe, c.fd.get(), &c.message, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, tag(c.fd.get(), kSend));
  c.send_in_flight = true;
  ++c.in_flight;
}

void UringServer::on_send(Connection& c, int result) {
  if (c.closing) return;
  if (result < 0) {
    close(c);  // EPIPE, ECONNRESET: the client is gone
    return;
  }
  // A short send just leaves the rest in `sending` for the next one.
  c.sending.consume(static_cast<std::size_t>(result));
  if (c.pending_output() == 0) {
    // All sent: an idle connection keeps no output buffer. The price is an
    // allocation or two for the next response; server-epoll avoids it with
    // a shared queue, which a send the kernel may still be reading rules out.
    c.sending.release_memory();
    c.queued.release_memory();
  }
  if (c.close_after_send && c.pending_output() == 0 && !c.sleeping) {
    if (c.linger_after_send) {
      start_lingering_close(c);
    } else {
      close(c);
    }
    return;
  }
  resume(c);  // more to send, or room again to receive
}

// ---- closing --------------------------------------------------------------

void UringServer::start_lingering_close(Connection& c) {
  // The client sees our answer and then EOF; what it still sends is read
  // and dropped, so the kernel does not answer it with a reset that could
  // destroy the answer before the client has read it.
  ::shutdown(c.fd.get(), SHUT_WR);
  c.lingering = true;
  c.timing_header = false;
  c.linger_deadline = Clock::now() + kLingerTime;
  c.linger_bytes = 0;
  if (!c.receiving) arm_receive(c);
}

void UringServer::close(Connection& c) {
  if (c.closing) return;
  c.closing = true;
  // The kernel still holds the operations in flight (and pointers into c):
  // cancel them; c is freed when the last one has completed.
  if (c.receiving || c.send_in_flight) {
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_cancel_fd(sqe, c.fd.get(), IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, tag(0, kIgnore));
  }
  if (c.sleeping) {
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_cancel64(sqe, tag(c.fd.get(), kSleep), 0);
    io_uring_sqe_set_data64(sqe, tag(0, kIgnore));
  }
}

http::RequestParser UringServer::take_parser() {
  if (spare_parsers_.empty()) return http::RequestParser(config_.limits);
  http::RequestParser parser = std::move(spare_parsers_.back());
  spare_parsers_.pop_back();
  return parser;
}

void UringServer::give_back_parser(Connection& c) {
  if (spare_parsers_.size() < kMaxSpareParsers) {
    c.parser->reset();
    spare_parsers_.push_back(std::move(*c.parser));
  }
  c.parser.reset();
  c.parser_has_partial = false;
}

void UringServer::release_if_done(Connection& c) {
  // The Fd closes with the connection; only now may the kernel hand its
  // number to a new client, so no late completion can reach the wrong one.
  if (c.closing && c.in_flight == 0) connections_[static_cast<std::size_t>(c.fd.get())].reset();
}

}  // namespace iomodels::uring
