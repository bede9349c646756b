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
    if (has_output()) {
      return {.what = Do::Write, .read = reads, .deadline = write_deadline(now)};
    }

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
  abort();
}

void Session::expired(Clock::time_point now) {
  if (now >= send_deadline_ && has_output()) {
    // The client has taken nothing for the whole send timeout. Lingering
    // would wait for a client that does not read: close at once.
    ++context_.counters.send_timeouts;
    return abort();
  }
  if (now < deadline_) return;
  deadline_ = kNoDeadline;
  switch (phase_) {
    case Phase::Reading:
      return_parser();
      if (timer_ == Timer::FirstByte) {
        // Nothing was asked, so nothing is answered (a 408 could be read as
        // the answer to a request sent just now); the close is graceful all
        // the same, should that request be on its way.
        ++context_.counters.idle_timeouts;
        return drain_then(AfterDrain::Linger);
      }
      ++(timer_ == Timer::Body ? context_.counters.body_timeouts
                               : context_.counters.header_timeouts);
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
  // Progress: the send timeout runs again from the next Write step.
  if (bytes != 0) send_deadline_ = kNoDeadline;
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
    if (!parser_.held()) parser_ = context_.parsers.take();
    ParseResult parsed = parser_.parse(input);
    input = input.subspan(parsed.consumed);
    // NeedMore: the parser consumed (and copied what it needs of) all input.
    parser_holds_bytes_ = parsed.status == ParseStatus::NeedMore;
    // Its head is in: an Expect is answered now, before the body is read
    // (and before an error in the body, should the same read hold one).
    if (parser_.request().has_expect && parser_.head_accepted() && !head_answered_) {
      head_answered_ = true;
      if (!meet_expectation()) break;
    }
    if (parser_holds_bytes_) break;
    // This request is in: the next one runs its own deadlines.
    head_answered_ = false;
    request_seen_ = true;
    deadline_ = kNoDeadline;
    ++context_.counters.requests;
    if (parsed.status == ParseStatus::Error) {
      ++context_.counters.bad_requests;
      respond(error_response(parser_.error_status()));
      break;
    }
    answer(route(parser_.request(), context_.config.limits), now);
  }
  // When the input ended exactly at the end of a request, the parser goes
  // back to the pool: an idle session holds none. It stays while it holds
  // bytes of the next request, or blank lines before one (RFC 9112 lets a
  // server skip those, but they count against --max-header-bytes: an endless
  // stream of them ends in 431).
  if (parser_.held() && (!parser_holds_bytes_ || phase_ != Phase::Reading)) return_parser();
  // Requests pipelined behind one that waits, or behind too much output, are
  // kept as bytes until this session reads again. After an answer that
  // closes the connection they are dropped: nobody will answer them.
  const bool closing = phase_ == Phase::Draining && after_drain_ != AfterDrain::ReadAgain;
  if (!input.empty() && !closing) keep(input);
  update_deadline(now);
}

// RFC 9110 §10.1.1 (router.hpp's answer_expectation()): a 100 Continue goes
// out ahead of the body; a final answer from the head alone ends the request
// here, and false says so.
bool Session::meet_expectation() {
  const ExpectAnswer expect = answer_expectation(parser_.request(), context_.config.limits);
  if (expect.send_continue) output().append(kContinue);
  if (!expect.final) return true;
  request_seen_ = true;
  ++context_.counters.requests;
  respond(expect.response);
  return false;
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
    // Every close we start is graceful (RFC 9112 §9.6): the client may still
    // be sending (a refused body, requests pipelined behind Connection:
    // close), and a close with its bytes unread makes the kernel send a
    // reset, which can destroy our answer before the client reads it.
    drain_then(AfterDrain::Linger);
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
  send_deadline_ = kNoDeadline;
  return_parser();
  unparsed_.reset();
  deferred_.reset();
}

// Closes with nothing more sent: what is owed is dropped, as nobody will
// take it.
void Session::abort() {
  context_.scratch.consume(context_.scratch.pending());
  out_ = OutputQueue{};
  taken_ = 0;
  close();
}

// The deadline of the Reading phase, one clock at a time, each running from
// where it starts until what it waits for has come (a trickle does not
// restart it):
//   first byte  from the connection's start to the first byte of a request,
//               where a model sets it (the blocking ones: a silent client
//               holds a thread);
//   header      from a request's first byte to the end of its header section;
//   body        from there to the end of its body.
// serve() stops the clock as each request completes, so the next request
// runs its own. An idle keep-alive connection between requests is not timed.
void Session::update_deadline(Clock::time_point now) {
  if (phase_ != Phase::Reading) return;
  Timer wanted = Timer::FirstByte;
  if (parser_.held() && parser_.in_progress()) {
    request_seen_ = true;
    wanted = parser_.headers_complete() ? Timer::Body : Timer::Header;
  } else if (request_seen_ || context_.config.first_byte_timeout_ms == 0) {
    // Between requests, the common case on a busy keep-alive connection.
    timer_ = Timer::None;
    deadline_ = kNoDeadline;
    return;
  }
  if (wanted == timer_ && deadline_ != kNoDeadline) return;  // that clock runs on
  timer_ = wanted;
  const SessionConfig& config = context_.config;
  const std::uint32_t ms = wanted == Timer::FirstByte ? config.first_byte_timeout_ms
                           : wanted == Timer::Header  ? config.header_timeout_ms
                                                      : config.body_timeout_ms;
  deadline_ = now + std::chrono::milliseconds(ms);
}

// A Write step's deadline: the phase's, or sooner the send deadline where a
// model sets a send timeout. Owed bytes must start moving within it of the
// first Write step that offers them; each write that moves some restarts it
// (sent()), so a slow reader is never cut off, only one that takes nothing.
Clock::time_point Session::write_deadline(Clock::time_point now) {
  const std::uint32_t ms = context_.config.send_timeout_ms;
  if (ms == 0) return deadline_;
  if (send_deadline_ == kNoDeadline) send_deadline_ = now + std::chrono::milliseconds(ms);
  return std::min(deadline_, send_deadline_);
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
  head_answered_ = false;
  // Moved from, parser_ holds nothing again.
  if (parser_.held()) context_.parsers.give_back(std::move(parser_));
}

// Answers are built in the shared scratch queue unless this session already
// owes bytes: then behind them, in its own, to keep the order.
OutputQueue& Session::output() {
  return out_.empty() && taken_ == 0 ? context_.scratch : out_;
}

}  // namespace iomodels::http
