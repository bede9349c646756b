#include "servers/epoll/connection.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "net/socket.hpp"
#include "servers/common/shutdown.hpp"
#include "servers/epoll/reactor.hpp"

namespace iomodels::epoll {
namespace {

// A lingering close reads and discards for at most this long (SPEC §3).
constexpr auto kLingerTime = std::chrono::seconds(1);
// iovecs per writev: many pipelined responses, or a /bytes body, in one call.
constexpr int kMaxIov = 64;

}  // namespace

Connection::Connection(Reactor& reactor, Fd fd, std::uint32_t serial)
    : reactor_(reactor), fd_(std::move(fd)), serial_(serial) {}

bool Connection::start() {
  watching_ = EPOLLIN;
  return reactor_.loop().watch(fd_.get(), EPOLLIN, *this);
}

void Connection::on_ready(std::uint32_t events) {
  // Closed earlier in this turn of the loop (the object lives until its end).
  if (phase_ == Phase::Closed) return;
  // A reset, or both directions shut down: nobody is left to answer. Level-
  // triggered epoll reports these even with no interest, so they must close.
  if (events & (EPOLLERR | EPOLLHUP)) {
    if (phase_ != Phase::Lingering) ++reactor_.counters().resets;
    return close();
  }
  if (phase_ == Phase::Lingering) return drain();
  if (phase_ == Phase::Reading && (events & EPOLLIN)) read_and_serve();
  if (phase_ != Phase::Closed) proceed();
}

void Connection::on_timer() {
  switch (phase_) {
    case Phase::Reading:  // the header section did not complete in time
      ++reactor_.counters().header_timeouts;
      return_parser();
      respond(http::error_response(408));
      return proceed();
    case Phase::Waiting:  // the /sleep is over
      return finish_waiting();
    case Phase::Lingering:  // the client had its second to read our answer
      return close();
    case Phase::Writing:
    case Phase::Closed:
      return;  // no timer is armed in these phases
  }
}

void Connection::read_and_serve() {
  std::span<char> buffer = reactor_.read_buffer();
  IoResult r = read_some(fd_.get(), buffer);
  if (r.status == IoStatus::Ok) return serve(buffer.first(r.bytes));
  if (r.status == IoStatus::Again) return;  // nothing after all
  if (r.status == IoStatus::Error) {
    ++reactor_.counters().resets;
    return close();
  }
  // EOF: the client sends no more, but may still be reading what we owe it
  // (a client that half-closes after its requests). Finish writing, then close.
  enter(Phase::Writing);
  after_flush_ = AfterFlush::Close;
}

void Connection::serve(std::span<const char> input) {
  // Every complete request is answered, in order, until the input runs out or
  // this connection must stop reading (a wait, a full output queue, a close).
  bool parser_holds_bytes = false;
  while (!input.empty() && phase_ == Phase::Reading) {
    if (!parser_) parser_.emplace(reactor_.parsers().take());
    http::ParseResult parsed = parser_->parse(input);
    input = input.subspan(parsed.consumed);
    // NeedMore: the parser consumed (and copied what it needs of) all input.
    parser_holds_bytes = parsed.status == http::ParseStatus::NeedMore;
    if (parser_holds_bytes) break;
    ++reactor_.counters().requests;
    if (parsed.status == http::ParseStatus::Error) {
      ++reactor_.counters().bad_requests;
      respond(http::error_response(parser_->error_status()));
      break;
    }
    answer(http::route(parser_->request(), reactor_.config().server.limits));
  }
  // When the input ended exactly at the end of a request, the parser goes
  // back to the pool: an idle connection holds none. It stays while it holds
  // bytes of the next request, or blank lines before one (RFC 9112 lets a
  // server skip those, but they count against --max-header-bytes: an endless
  // stream of them ends in 431, as in the other models).
  if (parser_ && (!parser_holds_bytes || phase_ != Phase::Reading)) return_parser();
  // Requests pipelined behind one that waits, or behind a full output queue,
  // are kept as bytes until this connection reads again. After a response
  // that closes the connection they are dropped: nobody will answer them.
  if (!input.empty() && after_flush_ == AfterFlush::ReadAgain) {
    unparsed_.assign(input.begin(), input.end());
  }
}

void Connection::answer(const http::Plan& plan) {
  switch (plan.action) {
    case http::Action::Respond:
      return respond(plan.response);
    case http::Action::SleepThenRespond:
      // A timer, not a blocked thread: the loop serves everyone else meanwhile.
      wait_for(plan.response);
      reactor_.loop().arm_timer(*this, std::chrono::milliseconds(plan.sleep_ms));
      return;
    case http::Action::BurnCpuThenRespond:
      if (reactor_.offloading()) {
        wait_for(plan.response);
        reactor_.offload_cpu(*this, plan.cpu_us);
        return;
      }
      // Without --offload the work runs right here, on the loop's thread, and
      // every other connection of this loop waits until it is done. That is
      // the honest cost of a single-threaded event loop, not a bug to hide.
      shutdown::burn_cpu_us(plan.cpu_us);
      reactor_.loop().update_time();  // the clock read at wake-up is stale now
      return respond(plan.response);
  }
}

void Connection::respond(const http::Response& response) {
  http::OutputQueue& out = output();
  http::serialize(response, reactor_.config().server_name, out);
  if (response.close) {
    enter(Phase::Writing);
    // After an error the client may still be sending: close gracefully, or
    // the kernel's reset could destroy the response before it is read.
    after_flush_ = response.status >= 400 ? AfterFlush::Linger : AfterFlush::Close;
  } else if (out.pending() > reactor_.config().max_output_bytes) {
    // A client that pipelines but does not read: stop reading (and so stop
    // answering) until it has taken what it is owed. Memory stays bounded.
    enter(Phase::Writing);
  }
}

void Connection::wait_for(const http::Response& response) {
  enter(Phase::Waiting);
  // route() builds the responses of /sleep and /cpu from static text only, so
  // this copy does not point into the parser, which goes back to the pool.
  deferred_ = std::make_unique<http::Response>(response);
}

void Connection::finish_waiting() {
  enter(Phase::Reading);
  std::unique_ptr<http::Response> response = std::move(deferred_);
  respond(*response);
  proceed();
}

// After anything happened: serve requests kept while this connection could
// not read, write what is owed, and decide what comes next.
void Connection::proceed() {
  for (;;) {
    if (phase_ == Phase::Reading && !unparsed_.empty()) {
      std::string input = std::move(unparsed_);
      unparsed_.clear();
      serve(input);
    }
    if (!flush()) {
      ++reactor_.counters().resets;
      return close();
    }
    if (phase_ != Phase::Writing || !out_.empty()) break;
    // Writing, and everything is out.
    if (after_flush_ == AfterFlush::Close) return close();
    if (after_flush_ == AfterFlush::Linger) return start_lingering();
    enter(Phase::Reading);  // the client caught up: read (and serve kept requests) again
  }
  update_interest();
  update_header_timer();
}

// Writes as much as the socket takes without blocking; false if the peer is
// gone. A partial write is normal (a full socket buffer): the rest waits in
// out_, and EPOLLOUT is watched until it is gone.
bool Connection::flush() {
  http::OutputQueue& scratch = reactor_.scratch_output();
  http::OutputQueue& out = scratch.empty() ? out_ : scratch;
  iovec iov[kMaxIov];
  bool alive = true;
  while (!out.empty()) {
    const int count = out.gather(iov, kMaxIov);
    std::size_t offered = 0;
    for (int i = 0; i < count; ++i) offered += iov[i].iov_len;
    // The common case, one response in one buffer, goes through plain
    // write(): writev() first copies and checks the iovec array, a small cost
    // paid on every request.
    IoResult r =
        count == 1
            ? write_some(fd_.get(), {static_cast<const char*>(iov[0].iov_base), iov[0].iov_len})
            : writev_some(fd_.get(), iov, count);
    if (r.status == IoStatus::Again) break;
    if (r.status != IoStatus::Ok) {
      alive = false;
      out.consume(out.pending());
      break;
    }
    out.consume(r.bytes);
    // Short: the socket buffer is full, and another try now would only
    // return EAGAIN, one wasted system call.
    if (r.bytes < offered) break;
  }
  // What the socket did not take moves from the loop's shared queue into this
  // connection's own; the shared one must be empty for the next connection.
  if (!scratch.empty()) out_ = std::exchange(scratch, http::OutputQueue{});
  if (out_.empty()) out_.release_memory();
  return alive;
}

void Connection::start_lingering() {
  // Our side is done: the client reads our response, then EOF. Whatever it
  // still sends is read and thrown away, until it closes or kLingerTime.
  ::shutdown(fd_.get(), SHUT_WR);
  enter(Phase::Lingering);
  reactor_.loop().arm_timer(*this, kLingerTime);
  update_interest();
}

void Connection::drain() {
  IoResult r = read_some(fd_.get(), reactor_.read_buffer());
  // Data is discarded (level-triggered: more is reported next turn); the
  // deadline bounds how long this goes on, and the shared buffer the memory.
  if (r.status == IoStatus::Ok || r.status == IoStatus::Again) return;
  close();  // EOF or error: the client is done
}

void Connection::close() {
  enter(Phase::Closed);
  return_parser();
  const int fd = fd_.get();
  fd_.reset();  // also removes the socket from the epoll set
  reactor_.retire(fd);
}

// Every phase starts without a timer; the one that needs one arms it.
void Connection::enter(Phase phase) {
  phase_ = phase;
  reactor_.loop().cancel_timer(*this);
}

// epoll_ctl only when the interest changes: on a keep-alive connection whose
// responses fit the socket buffer, never after the first request.
void Connection::update_interest() {
  std::uint8_t wanted = 0;
  if (phase_ == Phase::Reading || phase_ == Phase::Lingering) wanted |= EPOLLIN;
  if (!out_.empty()) wanted |= EPOLLOUT;
  if (wanted == watching_) return;
  watching_ = wanted;
  reactor_.loop().change(fd_.get(), wanted, *this);
}

// The header timeout runs from the first byte of a request until its header
// section is complete; an idle connection between requests is not timed.
void Connection::update_header_timer() {
  if (phase_ != Phase::Reading) return;
  const bool waiting_for_header = parser_ && parser_->in_progress() && !parser_->headers_complete();
  if (waiting_for_header && !timer_armed()) {
    reactor_.loop().arm_timer(
        *this, std::chrono::milliseconds(reactor_.config().server.header_timeout_ms));
  } else if (!waiting_for_header && timer_armed()) {
    reactor_.loop().cancel_timer(*this);
  }
}

void Connection::return_parser() {
  if (!parser_) return;
  reactor_.parsers().give_back(std::move(*parser_));
  parser_.reset();
}

// Responses are built in the loop's shared queue unless this connection
// already owes bytes: then behind them, in its own, to keep the order.
http::OutputQueue& Connection::output() {
  return out_.empty() ? reactor_.scratch_output() : out_;
}

}  // namespace iomodels::epoll
