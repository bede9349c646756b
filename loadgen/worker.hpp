// Worker: one thread, one level-triggered epoll loop, a share of the
// connections. The per-request path is one write (a pipelined batch is one
// write) and one read; time comes from the vDSO clock, timers live in the
// loop (epoll_pwait2's timeout), and nothing is allocated per request.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "loadgen/config.hpp"
#include "loadgen/connect.hpp"
#include "loadgen/latency_histogram.hpp"
#include "loadgen/measurements.hpp"
#include "loadgen/response_parser.hpp"
#include "loadgen/schedule.hpp"
#include "loadgen/stats.hpp"
#include "net/fd.hpp"

namespace iomodels::loadgen {

// What all workers share, read-only while they run (except `stop`).
struct Plan {
  const Config* config = nullptr;
  Address target;
  std::vector<Address> sources;  // bind() before connect(), round-robin
  std::string batch;             // the request, `pipeline` times over
  std::size_t request_len = 0;
  std::int64_t start_ns = 0;          // CLOCK_MONOTONIC
  std::int64_t measure_start_ns = 0;  // start + warm-up
  std::int64_t end_ns = INT64_MAX;    // measure_start + duration, or never
  // Open loop: the rate over all connections of all shards, in requests per
  // 1000 s (0: closed loop), and those connections' number.
  std::uint64_t rate_milli = 0;
  std::uint64_t all_connections = 0;
  std::atomic<bool> stop{false};
};

std::int64_t now_ns();  // CLOCK_MONOTONIC through the vDSO: no syscall

class Worker {
 public:
  // slots: this thread's connections; first_slot: their global numbering
  // over all threads and shards (for the source address and the open-loop
  // schedule); quota: closed loop, measured requests to send (UINT64_MAX: no
  // limit); open loop, the last global request + 1 (UINT64_MAX: no limit).
  Worker(const Plan& plan, int slots, std::uint64_t first_slot, std::uint64_t quota);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void run();  // the thread's body; returns at the end of the run

  // Finished seconds of the timeline, for the progress line; thread-safe.
  std::vector<std::pair<std::uint32_t, TimelineSecond>> take_seconds();
  bool done() const { return done_.load(std::memory_order_acquire); }

  // Valid after run() returned.
  const Measurements& measurements() const { return m_; }
  std::int64_t finished_ns() const { return finished_ns_; }  // when the loop stopped
  // When the last measured response arrived (0: none).
  std::int64_t last_answer_ns() const { return last_answer_ns_; }
  // The longest any request open or unsent at the close had waited.
  std::int64_t oldest_waiting_ns() const { return oldest_waiting_ns_; }

 private:
  struct InFlight {
    std::int64_t scheduled_ns;
    std::int64_t sent_ns;
  };
  enum class State { Closed, Backoff, Connecting, Open, Finished };
  struct Slot {
    Fd fd;
    State state = State::Closed;
    std::uint32_t generation = 0;  // tells a stale epoll event from a fresh one
    ResponseParser parser;
    std::vector<InFlight> ring;  // `pipeline` entries, the requests in flight
    std::uint32_t head = 0, in_flight = 0;
    std::size_t write_begin = 0, write_end = 0;  // unsent bytes of plan.batch
    bool want_out = false;
    std::uint64_t conn_sent = 0;   // requests on this connection (--conn-requests)
    std::int64_t deadline_ns = 0;  // connect timeout, or when to retry
    int connect_failures = 0;      // in a row
    bool ever_opened = false;
    std::uint64_t due = 0, sent_seq = 0;  // open loop: requests assigned, sent
    std::int64_t first_send_ns = 0;       // fairness: when it first sent
    std::int64_t first_answer_ns = 0;     // fairness: its first 2xx in the window
  };
  // Why a connection is given up, and so the outcome of its requests
  // (kKindFields in worker.cpp follows this order).
  enum class Kind { Read, Reset, Write, Timeout, Parse };

  void start_connect(std::size_t i, std::int64_t now);
  void connect_failed(std::size_t i, int error, bool timed_out, std::int64_t now);
  void on_connected(std::size_t i, std::int64_t now);
  void on_event(std::size_t i, std::uint32_t events);
  void on_readable(std::size_t i);
  bool flush(std::size_t i);  // false if the slot failed
  void try_send(std::size_t i, std::int64_t now);
  void on_response(std::size_t i, const Response& r, std::int64_t now);
  void fail(std::size_t i, Kind kind, std::int64_t now);
  void give_up_in_flight(Slot& s, Kind kind, std::int64_t now);
  void close_window(std::int64_t close);
  void close_slot(std::size_t i);
  void reconnect(std::size_t i, std::int64_t now);
  void housekeeping(std::int64_t now);
  void assign_due(std::int64_t now);
  bool measured(std::int64_t t) const { return t >= plan_.measure_start_ns; }
  void count_error(std::int64_t now);
  void roll_seconds(std::int64_t now);
  bool finished(std::int64_t now) const;
  void set_interest(Slot& s, bool out);

  const Plan& plan_;
  const Config& config_;
  std::vector<Slot> slots_;
  std::uint64_t first_slot_;
  std::uint64_t quota_;  // closed loop: measured requests left to send
  bool open_loop_;
  OpenLoopSchedule schedule_;
  std::uint64_t next_k_ = 0;  // open loop: the next request to assign
  std::uint64_t open_loop_limit_ = UINT64_MAX;
  std::size_t ramp_next_ = 0;  // next slot to open for the first time
  std::int64_t ramp_interval_ns_ = 0;
  std::int64_t tick_ns_;
  std::int64_t next_tick_ns_ = 0;
  std::uint64_t in_flight_total_ = 0;  // over all slots, so the end test is O(1)
  std::uint64_t backlog_ = 0;          // open loop: assigned but not yet sent
  bool gave_up_ = false;               // --requests with no time limit and no server to talk to
  Fd epoll_;
  std::vector<char> buffer_;

  // During the run the responses go to m_.answered (and, open loop, to
  // m_.uncorrected.all) only, the lower bounds to both `all` and `censored`:
  // one record per response. close_window() adds `answered` into
  // m_.latency.all.
  Measurements m_;
  RunTotals& totals_ = m_.totals;
  std::int64_t last_answer_ns_ = 0;
  std::int64_t oldest_waiting_ns_ = 0;
  std::int64_t second_ = 0;  // index of the timeline second being filled
  TimelineSecond current_;
  std::mutex seconds_mutex_;
  std::vector<std::pair<std::uint32_t, TimelineSecond>> seconds_;
  std::atomic<bool> done_{false};
  std::int64_t finished_ns_ = 0;
};

}  // namespace iomodels::loadgen
