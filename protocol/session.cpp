#include "protocol/session.hpp"

#include <algorithm>
#include <utility>

namespace iomodels::http {

Session::Session(SessionContext& context, Clock::time_point now) : context_(context) {
  ++context_.counters.connections;
  update_deadline(now);
}

Session::~Session() {
  return_parser();
}

Step Session::next(Clock::time_point now) {
  for (;;) {
    if (phase_ == Phase::Reading) {
      // Requests kept while this session could not read are served first,
      // before anything newer: answers leave in the order asked.
      if (unparsed_) {
        std::unique_ptr<std::string> kept = std::move(unparsed_);
        serve(*kept, now);
      }
      // The client sends no more: what it asked is answered, then we close.
      // A half-received request is dropped: nobody will finish it.
      if (phase_ == Phase::Reading && input_ended_) {
        return_parser();
        drain_then(AfterDrain::Close);
      }
    }
    if (phase_ == Phase::Closed) return {.what = Do::Close};
    const bool reads = phase_ == Phase::Reading || phase_ == Phase::Lingering;
    if (has_output()) return {.what = Do::Write, .read = reads, .deadline = deadline_};

    switch (phase_) {
      case Phase::Draining:
        switch (after_drain_) {
          case AfterDrain::ReadAgain:  // the client caught up: read (and serve kept requests) again
            phase_ = Phase::Reading;
            update_deadline(now);
            continue;
          case AfterDrain::Close:
            close();
            return {.what = Do::Close};
          case AfterDrain::Linger:
            // Our side is done: the client reads the answer, then EOF.
            // Whatever it still sends is read and thrown away, within bounds.
            phase_ = Phase::Lingering;
            deadline_ = now + std::chrono::milliseconds(context_.config.linger_ms);
            lingered_bytes_ = 0;
            return {.what = Do::ShutdownWrite};
        }
        break;
      case Phase::Burning:
        if (!burn_handed_out_) {
          burn_handed_out_ = true;
          return {.what = Do::BurnCpu, .cpu_us = deferred_->cpu_us};
        }
        break;
      default:
        break;
    }
    return {.what = Do::Wait, .read = reads, .deadline = deadline_};
  }
}

void Session::received(std::span<const char> bytes, Clock::time_point now) {
  switch (phase_) {
    case Phase::Reading:
      // Behind kept requests, new input waits its turn.
      if (!unparsed_) return serve(bytes, now);
      return keep(bytes);
    case Phase::Lingering:
      lingered_bytes_ += static_cast<std::uint32_t>(
          std::min<std::size_t>(bytes.size(), context_.config.linger_bytes));
      if (lingered_bytes_ >= context_.config.linger_bytes) close();
      return;
    case Phase::Sleeping:
    case Phase::Burning:
      // Only a completion-based driver, whose receive was already under way,
      // delivers input now: kept for later, in order.
      return keep(bytes);
    case Phase::Draining:
      if (after_drain_ == AfterDrain::ReadAgain) keep(bytes);
      return;  // after a closing answer nobody reads it
    case Phase::Closed:
      return;
  }
}

void Session::end_of_input(Clock::time_point) {
  // Lingering: the client has read our answer and closed. Else next() closes
  // once the requests already here are answered.
  if (phase_ == Phase::Lingering) return close();
  input_ended_ = true;
}

void Session::failed() {
  if (phase_ == Phase::Closed) return;
  if (phase_ != Phase::Lingering) ++context_.counters.resets;
  // Nobody is left to take what is owed.
  context_.scratch.consume(context_.scratch.pending());
  out_ = OutputQueue{};
  taken_ = 0;
  close();
}

void Session::expired(Clock::time_point now) {
  if (now < deadline_) return;
  deadline_ = kNoDeadline;
  switch (phase_) {
    case Phase::Reading:  // the header section did not complete in time
      ++context_.counters.header_timeouts;
      return_parser();
      return respond(error_response(408));
    case Phase::Sleeping:  // the /sleep is over
      phase_ = Phase::Reading;
      respond(std::exchange(deferred_, nullptr)->response);
      return update_deadline(now);
    case Phase::Lingering:  // the client had its time to read our answer
      return close();
    default:
      return;  // no deadline runs in the other phases
  }
}

void Session::work_done(Clock::time_point now) {
  if (phase_ != Phase::Burning) return;
  phase_ = Phase::Reading;
  respond(std::exchange(deferred_, nullptr)->response);
  update_deadline(now);
}

void Session::close_gracefully() {
  drain_then(AfterDrain::Linger);
}

std::uint64_t Session::pending_output() const {
  // The scratch queue holds bytes only while they are this session's (see
  // SessionContext), so counting it here counts nobody else's.
  return out_.pending() + taken_ + context_.scratch.pending();
}

int Session::gather(iovec* iov, int max_iov) const {
  const OutputQueue& scratch = context_.scratch;
  return (scratch.empty() ? out_ : scratch).gather(iov, max_iov);
}

void Session::sent(std::size_t bytes) {
  if (taken_ != 0) {
    taken_ -= std::min<std::uint64_t>(bytes, taken_);
    return;
  }
  OutputQueue& scratch = context_.scratch;
  if (scratch.empty()) {
    out_.consume(bytes);
    if (out_.empty()) out_.release_memory();  // an idle session holds no output buffer
    return;
  }
  scratch.consume(bytes);
  // What the socket did not take moves into this session's own queue: the
  // shared one must be empty before another session's turn.
  if (!scratch.empty()) out_ = std::exchange(scratch, OutputQueue{});
}

void Session::take_output(OutputQueue& into) {
  OutputQueue& scratch = context_.scratch;
  OutputQueue& owed = scratch.empty() ? out_ : scratch;
  taken_ += owed.pending();
  // A swap, not a copy: `into` was empty, and its buffers' capacity goes to
  // collect the next answers.
  std::swap(into, owed);
}

void Session::serve(std::span<const char> input, Clock::time_point now) {
  // Every complete request is answered, in order, until the input runs out or
  // this session must stop reading (a wait, too much owed, a close).
  while (!input.empty() && phase_ == Phase::Reading) {
    if (!parser_) parser_.emplace(context_.parsers.take());
    ParseResult parsed = parser_->parse(input);
    input = input.subspan(parsed.consumed);
    // NeedMore: the parser consumed (and copied what it needs of) all input.
    parser_holds_bytes_ = parsed.status == ParseStatus::NeedMore;
    if (parser_holds_bytes_) break;
    // This request is in: the next one runs its own header deadline.
    deadline_ = kNoDeadline;
    ++context_.counters.requests;
    if (parsed.status == ParseStatus::Error) {
      ++context_.counters.bad_requests;
      respond(error_response(parser_->error_status()));
      break;
    }
    answer(route(parser_->request(), context_.config.limits), now);
  }
  // When the input ended exactly at the end of a request, the parser goes
  // back to the pool: an idle session holds none. It stays while it holds
  // bytes of the next request, or blank lines before one (RFC 9112 lets a
  // server skip those, but they count against --max-header-bytes: an endless
  // stream of them ends in 431).
  if (parser_ && (!parser_holds_bytes_ || phase_ != Phase::Reading)) return_parser();
  // Requests pipelined behind one that waits, or behind too much output, are
  // kept as bytes until this session reads again. After an answer that
  // closes the connection they are dropped: nobody will answer them.
  const bool closing = phase_ == Phase::Draining && after_drain_ != AfterDrain::ReadAgain;
  if (!input.empty() && !closing) keep(input);
  update_deadline(now);
}

void Session::answer(const Plan& plan, Clock::time_point now) {
  switch (plan.action) {
    case Action::Respond:
      return respond(plan.response);
    case Action::SleepThenRespond:
      // The driver waits its own way (a blocked thread, a timer, a kernel
      // timeout); the clock runs from now, while earlier answers are written.
      wait_for(Phase::Sleeping, plan.response);
      deadline_ = now + std::chrono::milliseconds(plan.sleep_ms);
      return;
    case Action::BurnCpuThenRespond:
      wait_for(Phase::Burning, plan.response, plan.cpu_us);
      burn_handed_out_ = false;
      return;
  }
}

void Session::respond(const Response& response) {
  serialize(response, context_.config.server_name, output());
  if (response.close) {
    // After an error the client may still be sending: close gracefully, or
    // the kernel's reset could destroy the answer before it is read.
    drain_then(response.status >= 400 ? AfterDrain::Linger : AfterDrain::Close);
  } else if (pending_output() > context_.config.max_output_bytes) {
    // A client that pipelines but does not read: stop reading (and so stop
    // answering) until it has taken what it is owed.
    drain_then(AfterDrain::ReadAgain);
  }
}

void Session::wait_for(Phase phase, const Response& response, std::uint32_t cpu_us) {
  phase_ = phase;
  // route() builds the answers of /sleep and /cpu from static text only, so
  // this copy does not point into the parser, which goes back to the pool.
  deferred_ = std::make_unique<Deferred>(Deferred{.response = response, .cpu_us = cpu_us});
}

void Session::drain_then(AfterDrain after) {
  phase_ = Phase::Draining;
  after_drain_ = after;
  deadline_ = kNoDeadline;
  if (after != AfterDrain::ReadAgain) unparsed_.reset();
}

void Session::close() {
  phase_ = Phase::Closed;
  deadline_ = kNoDeadline;
  return_parser();
  unparsed_.reset();
  deferred_.reset();
}

// The deadline of the Reading phase: the header timeout runs from a request's
// first byte until its header section is complete (restarted for each
// request: serve() clears it as each one completes); an idle connection
// between requests is not timed. A deadline on the body, or on an idle
// connection, would be one more branch here, answered in expired().
void Session::update_deadline(Clock::time_point now) {
  if (phase_ != Phase::Reading) return;
  const bool waiting_for_header = parser_ && parser_->in_progress() && !parser_->headers_complete();
  if (!waiting_for_header) {
    deadline_ = kNoDeadline;
  } else if (deadline_ == kNoDeadline) {
    deadline_ = now + std::chrono::milliseconds(context_.config.header_timeout_ms);
  }
}

// Input that cannot be parsed now, behind what is already kept. Rare (a
// pipeliner behind a /sleep, or one that does not read), so it costs a
// pointer on every session and an allocation only on those.
void Session::keep(std::span<const char> input) {
  if (!unparsed_) unparsed_ = std::make_unique<std::string>();
  unparsed_->append(input.begin(), input.end());
}

void Session::return_parser() {
  parser_holds_bytes_ = false;
  if (!parser_) return;
  context_.parsers.give_back(std::move(*parser_));
  parser_.reset();
}

// Answers are built in the shared scratch queue unless this session already
// owes bytes: then behind them, in its own, to keep the order.
OutputQueue& Session::output() {
  return out_.empty() && taken_ == 0 ? context_.scratch : out_;
}

}  // namespace iomodels::http
