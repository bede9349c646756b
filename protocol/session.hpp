// Session: one connection's HTTP exchange, without the connection.
//
// Everything a server does for one client that does not depend on how it
// waits: parse, route, serialise, keep pipelined answers in order, decide
// how the connection ends, run its deadlines, bound its output, count what
// happened. Bytes and the clock go in; the next step comes out. Nothing here
// touches a socket: each I/O model is a driver that carries the steps out
// its own way (a blocked thread, a readiness loop, a ring of completions),
// as router.hpp's plan is carried out, and this file is the only place the
// protocol's rules live.
//
//   phase      steps out            reads  deadline          and then
//   ---------  -------------------  -----  ----------------  ----------------------------------
//   Reading    Write (answers       yes    first byte (block- /sleep: Sleeping; /cpu: Burning;
//              owed, a 100          ing models), header,  an answer that closes, a
//              Continue), Wait             body              timeout, EOF, more owed than the
//                                                            high-water mark: Draining
//   Sleeping   Write, Wait          no     end of /sleep     deadline: answer it, Reading
//   Burning    Write, BurnCpu,      no     -                 work_done(): answer it, Reading
//              Wait
//   Draining   Write; then Close    no     -                 all written: Reading again, Close
//              or ShutdownWrite                              (after EOF), or ShutdownWrite and
//                                                            Lingering (every close we start)
//   Lingering  Wait                 yes    linger time       EOF, error, deadline or enough
//                                                            bytes thrown away: Close
//   Closed     Close                -      -                 -
//
// While answers are owed, a Write step also carries the send deadline (the
// blocking models set one: a write that makes no progress for that long
// closes the session, without lingering, since nobody reads what we send).
//
// A driver's loop: call next(), do the step, report what happened (sent(),
// received(), end_of_input(), failed(), expired(), work_done()), call next()
// again, until the step is Close. A step is done before next() is called
// again. Write comes first whenever answers are owed, so earlier answers
// leave before a /cpu burn stalls the thread, and nothing ends before they
// are out.
//
// Memory: between requests a session holds no parser (borrowed from the
// context's pool while a request arrives) and no output buffer (answers are
// built in the context's shared scratch queue and move into the session's
// own only if the socket does not take them at once).
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "protocol/output_queue.hpp"
#include "protocol/parser_pool.hpp"
#include "protocol/request_parser.hpp"
#include "protocol/router.hpp"
#include "protocol/session_config.hpp"
#include "protocol/session_counters.hpp"

namespace iomodels::http {

using Clock = std::chrono::steady_clock;
inline constexpr Clock::time_point kNoDeadline = Clock::time_point::max();

// What the sessions served by one thread share: one thread runs one session
// at a time, so they can share scratch space. A blocking worker has one, an
// event loop has one, a ring has one.
struct SessionContext {
  explicit SessionContext(const SessionConfig& session_config)
      : config(session_config), parsers(session_config.limits) {}
  SessionContext(const SessionContext&) = delete;
  SessionContext& operator=(const SessionContext&) = delete;

  const SessionConfig& config;
  ParserPool parsers;
  // Answers are built here, and move into a session's own queue only if the
  // socket does not take them at once. Empty whenever no session is in the
  // middle of a step.
  OutputQueue scratch;
  SessionCounters counters;
};

enum class Do : std::uint8_t {
  Write,          // write the owed bytes (gather()), report them with sent()
  BurnCpu,        // burn cpu_us of CPU (here, or on a worker), then work_done()
  ShutdownWrite,  // shutdown(SHUT_WR): the client reads our answer, then EOF
  Wait,           // nothing to do until what `read` and `deadline` say
  Close,          // close the socket: the session is over
};

struct Step {
  Do what = Do::Wait;
  // What to wait for, after Wait, and also while a Write cannot finish (a
  // full socket buffer): input, if `read` (feed it to received()), and the
  // deadline, if any (call expired() then). Wait without `read` and with a
  // deadline is a /sleep: wait that long without reading.
  bool read = false;
  Clock::time_point deadline = kNoDeadline;
  std::uint32_t cpu_us = 0;  // BurnCpu
};

class Session {
 public:
  // Counts a connection; `now` is when it was accepted.
  Session(SessionContext& context, Clock::time_point now);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Step next(Clock::time_point now);

  // ---- what the driver reports ----
  // Bytes read from the client, of any size and at any split.
  void received(std::span<const char> bytes, Clock::time_point now);
  // The client will send nothing more (a read returned 0). Its requests
  // already here are still answered; then the connection closes.
  void end_of_input(Clock::time_point now);
  // The connection broke (reset, write error): nothing more can be sent.
  void failed();
  // The step's deadline has come. Harmless if it has not (a stale timer).
  void expired(Clock::time_point now);
  // The BurnCpu step is done.
  void work_done(Clock::time_point now);
  // For a connection answered without a session (a 503 written by an
  // overloaded acceptor): end it the way a session ends after an error.
  void close_gracefully();

  // ---- the bytes owed ----
  bool has_output() const { return pending_output() != 0; }
  std::uint64_t pending_output() const;
  // Fills up to max_iov iovecs with the next bytes to write, in order.
  int gather(iovec* iov, int max_iov) const;
  // After every write attempt, 0 bytes included: the socket took `bytes` of
  // what gather() or take_output() gave. Bytes left over move out of the
  // context's scratch queue into this session's own, for the next attempt.
  void sent(std::size_t bytes);
  // For a completion-based driver, whose kernel reads the bytes in place
  // until the send completes: moves every owed byte into `into` (empty),
  // where nothing will move them; they stay owed until sent() says so.
  void take_output(OutputQueue& into);

 private:
  enum class Phase : std::uint8_t { Reading, Sleeping, Burning, Draining, Lingering, Closed };
  // What Draining leads to once everything owed is written.
  enum class AfterDrain : std::uint8_t { ReadAgain, Close, Linger };
  // What the Reading phase's deadline is timing.
  enum class Timer : std::uint8_t { None, FirstByte, Header, Body };

  void serve(std::span<const char> input, Clock::time_point now);
  bool meet_expectation();
  void answer(const Plan& plan, Clock::time_point now);
  void respond(const Response& response);
  void wait_for(Phase phase, const Response& response, std::uint32_t cpu_us = 0);
  void drain_then(AfterDrain after);
  void close();
  void abort();
  void update_deadline(Clock::time_point now);
  Clock::time_point write_deadline(Clock::time_point now);
  void keep(std::span<const char> input);
  void return_parser();
  OutputQueue& output();

  // The answer a /sleep or /cpu owes, and the CPU time a /cpu waits for.
  struct Deferred {
    Response response;
    std::uint32_t cpu_us = 0;
  };

  // Laid out tight: an idle event-loop connection is little more than this,
  // and a server holds tens of thousands of them.
  SessionContext& context_;
  std::uint32_t lingered_bytes_ = 0;  // Lingering: read and thrown away so far
  Phase phase_ = Phase::Reading;
  AfterDrain after_drain_ = AfterDrain::ReadAgain;
  Timer timer_ = Timer::None;         // Reading: what deadline_ times
  bool burn_handed_out_ : 1 = false;  // Burning: the BurnCpu step was given
  bool input_ended_ : 1 = false;      // end_of_input() was reported
  bool parser_holds_bytes_ : 1 = false;
  bool request_seen_ : 1 = false;                  // a request has begun: the first byte came
  bool head_answered_ : 1 = false;                 // this request's Expect was answered
  Clock::time_point deadline_ = kNoDeadline;       // the current phase's, if any
  Clock::time_point send_deadline_ = kNoDeadline;  // owed bytes must move by then
  RequestParser parser_{RequestParser::None{}};    // held only while a request arrives
  OutputQueue out_;                                // owed, not yet taken by the socket
  std::uint64_t taken_ = 0;                        // owed, handed over with take_output()
  std::unique_ptr<std::string> unparsed_;  // input behind a request that waits, not parsed yet
  std::unique_ptr<Deferred> deferred_;     // while Sleeping or Burning
};

}  // namespace iomodels::http
