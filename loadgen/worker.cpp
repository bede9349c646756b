#include "loadgen/worker.hpp"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "net/socket.hpp"

namespace iomodels::loadgen {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr int kMaxEvents = 512;
// Connect retries back off from 10 ms to 1 s, so a refused port is counted
// without spinning a core, and a server that comes back is found quickly.
constexpr std::int64_t kFirstBackoffNs = 10'000'000;
constexpr std::int64_t kMaxBackoffNs = kSecond;
// --requests without a time limit gives up after this many failed connects
// in a row on every connection (about 4 s of backoff): nothing is listening.
constexpr int kGiveUpFailures = 12;

// What a Kind of connection failure counts: one error event, and the
// outcome of each request it loses. In the order of Worker::Kind.
struct KindFields {
  std::uint64_t ErrorCounts::*error;
  std::uint64_t Outcomes::*outcome;
};
constexpr KindFields kKindFields[] = {
    {&ErrorCounts::read, &Outcomes::failed_read},    // Read
    {&ErrorCounts::reset, &Outcomes::failed_reset},  // Reset
    {&ErrorCounts::write, &Outcomes::failed_write},  // Write
    {&ErrorCounts::timeout, &Outcomes::timed_out},   // Timeout
    {&ErrorCounts::parse, &Outcomes::failed_parse},  // Parse
};

std::uint64_t token(std::size_t index, std::uint32_t generation) {
  return (static_cast<std::uint64_t>(generation) << 32) | index;
}

}  // namespace

std::int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * kSecond + ts.tv_nsec;
}

Worker::Worker(const Plan& plan, int slots, std::uint64_t first_slot, std::uint64_t quota)
    : plan_(plan),
      config_(*plan.config),
      slots_(static_cast<std::size_t>(slots)),
      first_slot_(first_slot),
      quota_(plan.rate_milli > 0 ? UINT64_MAX : quota),
      open_loop_(plan.rate_milli > 0),
      schedule_(plan.start_ns, std::max<std::uint64_t>(plan.rate_milli, 1), plan.all_connections,
                first_slot, static_cast<std::uint64_t>(slots)),
      // Scanning every connection for timeouts is the loop's only O(n) work;
      // with thousands of connections it runs less often (timeouts are then
      // noticed up to 50 ms late, against a default timeout of seconds).
      tick_ns_(slots <= 2000 ? 10'000'000 : 50'000'000),
      buffer_(64 * 1024) {
  for (auto& s : slots_) {
    s.parser = ResponseParser(config_.pattern_length, config_.expect_no_body);
    s.ring.resize(static_cast<std::size_t>(config_.pipeline));
  }
  if (config_.connect_rate > 0) {
    // This process's share of the connect rate, spread over its threads.
    ramp_interval_ns_ = static_cast<std::int64_t>(kSecond * config_.threads * config_.shard_count /
                                                  config_.connect_rate);
  }
  // Open loop with --requests: the global requests before `quota` are ours
  // to send (quota already counts the warm-up's), the rest are not.
  if (open_loop_ && quota != UINT64_MAX)
    open_loop_limit_ = schedule_.first_local_at_or_after(quota);
}

Worker::~Worker() = default;

void Worker::set_interest(Slot& s, bool out) {
  if (s.want_out == out) return;
  const std::size_t i = static_cast<std::size_t>(&s - slots_.data());
  epoll_event ev{};
  ev.events = EPOLLIN | (out ? EPOLLOUT : 0u);
  ev.data.u64 = token(i, s.generation);
  epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, s.fd.get(), &ev);
  s.want_out = out;
}

void Worker::start_connect(std::size_t i, std::int64_t now) {
  Slot& s = slots_[i];
  const Address* source =
      plan_.sources.empty() ? nullptr : &plan_.sources[(first_slot_ + i) % plan_.sources.size()];
  Connecting c = start_connection(plan_.target, source);
  if (!c.fd) return connect_failed(i, c.error, false, now);
  s.fd = std::move(c.fd);
  ++s.generation;
  epoll_event ev{};
  ev.events = c.done ? EPOLLIN : EPOLLIN | EPOLLOUT;
  ev.data.u64 = token(i, s.generation);
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, s.fd.get(), &ev) < 0) {
    s.fd.reset();
    return connect_failed(i, errno, false, now);
  }
  s.want_out = !c.done;
  s.state = State::Connecting;
  s.deadline_ns = now + config_.connect_timeout_ns;
  if (c.done) on_connected(i, now);
}

void Worker::connect_failed(std::size_t i, int error, bool timed_out, std::int64_t now) {
  roll_seconds(now);
  if (measured(now)) {
    ErrorCounts& e = totals_.errors;
    if (timed_out || error == ETIMEDOUT)
      ++e.connect_timeout;
    else if (error == ECONNREFUSED)
      ++e.connect_refused;
    else if (error == ECONNRESET)
      ++e.connect_reset;
    else {
      ++e.connect_other;
      totals_.last_connect_error = std::strerror(error);
    }
    ++current_.errors;
  } else if (!timed_out && error != ETIMEDOUT && error != ECONNREFUSED && error != ECONNRESET) {
    totals_.last_connect_error = std::strerror(error);
  }
  close_slot(i);
  Slot& s = slots_[i];
  const int shift = std::min(s.connect_failures, 7);
  ++s.connect_failures;
  s.state = State::Backoff;
  s.deadline_ns = now + std::min(kMaxBackoffNs, kFirstBackoffNs << shift);
}

void Worker::on_connected(std::size_t i, std::int64_t now) {
  Slot& s = slots_[i];
  s.state = State::Open;
  s.ever_opened = true;
  s.connect_failures = 0;
  s.conn_sent = 0;
  set_interest(s, false);
  try_send(i, now);
}

void Worker::give_up_in_flight(Slot& s, Kind kind, std::int64_t now) {
  // Given up inside the window: each request enters with its age, a lower
  // bound of the latency it would have had. Before the window: not measured.
  if (measured(now)) {
    std::uint64_t& outcome = totals_.outcomes.*(kKindFields[static_cast<int>(kind)].outcome);
    for (std::uint32_t n = 0; n < s.in_flight; ++n) {
      const InFlight& r = s.ring[(s.head + n) % s.ring.size()];
      ++outcome;
      m_.latency.record_lower_bound(static_cast<std::uint64_t>(now - r.scheduled_ns));
      if (open_loop_)
        m_.uncorrected.record_lower_bound(static_cast<std::uint64_t>(now - r.sent_ns));
    }
  }
  in_flight_total_ -= s.in_flight;
  s.in_flight = 0;
  s.head = 0;
}

void Worker::close_slot(std::size_t i) {
  Slot& s = slots_[i];
  // Every path that loses requests gives them up first (fail()); a close
  // with none in flight is a reconnect.
  if (s.in_flight != 0) give_up_in_flight(s, Kind::Read, now_ns());
  s.head = 0;
  s.write_begin = s.write_end = 0;
  s.want_out = false;
  s.fd.reset();  // closing removes it from the epoll set (never dup()ed)
  s.parser.reset();
  s.state = State::Closed;
  ++s.generation;
}

void Worker::reconnect(std::size_t i, std::int64_t now) {
  close_slot(i);
  // A closed loop with its requests all sent needs no new connection.
  if (!open_loop_ && quota_ == 0) {
    slots_[i].state = State::Finished;
    return;
  }
  start_connect(i, now);
}

void Worker::fail(std::size_t i, Kind kind, std::int64_t now) {
  roll_seconds(now);
  if (measured(now)) {
    ++(totals_.errors.*(kKindFields[static_cast<int>(kind)].error));
    ++current_.errors;
  }
  give_up_in_flight(slots_[i], kind, now);
  reconnect(i, now);
}

void Worker::on_event(std::size_t i, std::uint32_t events) {
  Slot& s = slots_[i];
  if (s.state == State::Connecting) {
    const std::int64_t now = now_ns();
    int error = 0;
    socklen_t len = sizeof error;
    if (getsockopt(s.fd.get(), SOL_SOCKET, SO_ERROR, &error, &len) < 0) error = errno;
    if (error != 0) return connect_failed(i, error, false, now);
    if (events & (EPOLLOUT | EPOLLIN)) on_connected(i, now);
    return;
  }
  if (s.state != State::Open) return;
  if ((events & EPOLLOUT) && s.write_begin != s.write_end) {
    if (!flush(i)) return;
    // Requests that fell due while this write was pending wait for nothing
    // else: without this they would wait for the next response, which may
    // never come.
    if (s.write_begin == s.write_end && !(events & EPOLLIN)) try_send(i, now_ns());
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(i);
}

bool Worker::flush(std::size_t i) {
  Slot& s = slots_[i];
  const IoResult r =
      write_some(s.fd.get(), {plan_.batch.data() + s.write_begin, s.write_end - s.write_begin});
  if (r.status == IoStatus::Ok) {
    s.write_begin += r.bytes;
    totals_.bytes_written += r.bytes;
    const bool done = s.write_begin == s.write_end;
    if (done) s.write_begin = s.write_end = 0;
    set_interest(s, !done);
    return true;
  }
  if (r.status == IoStatus::Again) {
    set_interest(s, true);
    return true;
  }
  fail(i, r.error == EPIPE || r.error == ECONNRESET ? Kind::Reset : Kind::Write, now_ns());
  return false;
}

void Worker::try_send(std::size_t i, std::int64_t now) {
  Slot& s = slots_[i];
  if (s.state != State::Open || s.write_begin != s.write_end) return;
  const std::uint64_t depth = s.ring.size();
  std::uint64_t k;
  if (!open_loop_) {
    // Closed loop, as wrk: the next batch when the whole previous one is in.
    if (s.in_flight != 0) return;
    k = depth;
    if (quota_ != UINT64_MAX && measured(now)) k = std::min<std::uint64_t>(k, quota_);
  } else {
    k = std::min<std::uint64_t>(depth - s.in_flight, s.due - s.sent_seq);
  }
  if (config_.conn_requests != 0) {
    const std::uint64_t room = config_.conn_requests - s.conn_sent;
    if (room == 0) {
      if (s.in_flight == 0) reconnect(i, now);
      return;
    }
    k = std::min(k, room);
  }
  if (k == 0) return;

  const bool in_window = measured(now);
  for (std::uint64_t j = 0; j < k; ++j) {
    std::int64_t scheduled = now;
    if (open_loop_) {
      scheduled = schedule_.time_of(i, s.sent_seq);
      ++s.sent_seq;
      --backlog_;
      if (in_window) m_.send_lag.record(static_cast<std::uint64_t>(now - scheduled));
    }
    s.ring[(s.head + s.in_flight) % depth] = {scheduled, now};
    ++s.in_flight;
  }
  if (!open_loop_ && in_window && quota_ != UINT64_MAX) quota_ -= k;
  if (s.first_send_ns == 0) s.first_send_ns = now;
  in_flight_total_ += k;
  s.conn_sent += k;
  s.write_begin = 0;
  s.write_end = k * plan_.request_len;
  flush(i);
}

void Worker::on_readable(std::size_t i) {
  Slot& s = slots_[i];
  const IoResult r = read_some(s.fd.get(), buffer_);
  const std::int64_t now = now_ns();
  // Past the end of the window: the loop stops at its next turn, and what
  // arrived now belongs to no measured second.
  if (now >= plan_.end_ns) return;
  if (r.status == IoStatus::Again) return;
  if (r.status == IoStatus::Error) {
    return fail(i, r.error == ECONNRESET ? Kind::Reset : Kind::Read, now);
  }
  if (r.status == IoStatus::Closed) {
    const FeedResult f = s.parser.feed_eof();
    if (f.status == ParseStatus::Complete) {
      const std::uint32_t generation = s.generation;
      on_response(i, s.parser.response(), now);
      if (s.generation != generation) return;
    }
    // A close with requests unanswered loses them; an idle close does not.
    if (s.in_flight != 0 || f.status == ParseStatus::Error) return fail(i, Kind::Read, now);
    return reconnect(i, now);
  }
  totals_.bytes_read += r.bytes;
  std::span<const char> data(buffer_.data(), r.bytes);
  while (!data.empty()) {
    const FeedResult f = s.parser.feed(data);
    if (f.status == ParseStatus::NeedMore) break;
    if (f.status == ParseStatus::Error) return fail(i, Kind::Parse, now);
    data = data.subspan(f.consumed);
    const std::uint32_t generation = s.generation;
    on_response(i, s.parser.response(), now);
    if (s.generation != generation) return;  // the slot was closed
  }
  try_send(i, now);
}

void Worker::on_response(std::size_t i, const Response& r, std::int64_t now) {
  Slot& s = slots_[i];
  // An answer to nothing: the byte stream and our requests are out of step.
  if (s.in_flight == 0) return fail(i, Kind::Parse, now);
  const InFlight request = s.ring[s.head];
  s.head = (s.head + 1) % static_cast<std::uint32_t>(s.ring.size());
  --s.in_flight;
  --in_flight_total_;
  // Answered inside the window: measured, whenever it was sent (a request
  // sent in the warm-up and answered now was outstanding at the opening).
  if (measured(now)) {
    roll_seconds(now);
    const auto latency = static_cast<std::uint64_t>(now - request.scheduled_ns);
    m_.answered.record(latency);
    if (open_loop_) m_.uncorrected.all.record(static_cast<std::uint64_t>(now - request.sent_ns));
    current_.histogram.record(latency);
    ++current_.requests;
    last_answer_ns_ = now;
    ++totals_.status[r.status >= 0 && r.status < 600 ? r.status : 0];
    Outcomes& o = totals_.outcomes;
    if (r.status < 200 || r.status >= 300) {
      ++o.answered_other;
      if (r.status >= 400) {
        ++totals_.errors.status;
        ++current_.errors;
      }
    } else if (!r.body_ok) {
      ++o.failed_body;
      ++totals_.errors.body;
      ++current_.errors;
    } else {
      ++o.answered_2xx;
      if (s.first_answer_ns == 0) s.first_answer_ns = now;
    }
  }
  if (!r.keep_alive) {
    // The server closes after this response (Connection: close).
    if (s.in_flight != 0) return fail(i, Kind::Read, now);
    reconnect(i, now);
  }
}

void Worker::close_window(std::int64_t close) {
  const bool opened = close >= plan_.measure_start_ns;
  const auto age = [close](std::int64_t since) {
    return static_cast<std::uint64_t>(std::max<std::int64_t>(0, close - since));
  };
  const auto waiting = [&](std::int64_t since) {
    oldest_waiting_ns_ = std::max<std::int64_t>(oldest_waiting_ns_, close - since);
    return age(since);
  };
  Outcomes& o = totals_.outcomes;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (opened) {
      // Still unanswered: lower bounds, aged to the close.
      for (std::uint32_t n = 0; n < s.in_flight; ++n) {
        const InFlight& r = s.ring[(s.head + n) % s.ring.size()];
        ++o.open_at_end;
        m_.latency.record_lower_bound(waiting(r.scheduled_ns));
        if (open_loop_) m_.uncorrected.record_lower_bound(age(r.sent_ns));
      }
      for (std::uint64_t j = s.sent_seq; j < s.due; ++j) {
        ++o.never_sent;
        m_.latency.record_lower_bound(waiting(schedule_.time_of(i, j)));
      }
      const std::int64_t from = std::max(plan_.measure_start_ns, s.first_send_ns);
      if (s.first_answer_ns != 0) {
        ++m_.fairness.answered;
        m_.fairness.first_answer.record_exact(
            static_cast<std::uint64_t>(std::max<std::int64_t>(0, s.first_answer_ns - from)));
      } else {
        m_.fairness.first_answer.record_lower_bound(age(from));
      }
    }
    s.in_flight = 0;
    if (s.ever_opened) ++totals_.slots_opened;
    s.fd.reset();
  }
  if (opened) m_.fairness.connections = slots_.size();
  m_.latency.all.merge(m_.answered);
  totals_.slots = slots_.size();
  in_flight_total_ = 0;
}

void Worker::assign_due(std::int64_t now) {
  const std::size_t n = slots_.size();
  while (next_k_ < open_loop_limit_) {
    const std::int64_t t = schedule_.time(next_k_);
    if (t > now || t >= plan_.end_ns) break;
    const std::size_t i = next_k_ % n;
    ++slots_[i].due;
    ++backlog_;
    ++next_k_;
    try_send(i, now);
  }
}

void Worker::housekeeping(std::int64_t now) {
  bool all_failing = true;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    switch (s.state) {
      case State::Backoff:
        if (s.connect_failures < kGiveUpFailures) all_failing = false;
        if (s.deadline_ns <= now) start_connect(i, now);
        break;
      case State::Connecting:
        all_failing = false;
        if (s.deadline_ns <= now) connect_failed(i, ETIMEDOUT, true, now);
        break;
      case State::Open:
        all_failing = false;
        if (s.in_flight != 0 && now - s.ring[s.head].sent_ns > config_.timeout_ns) {
          fail(i, Kind::Timeout, now);
        }
        break;
      default:
        all_failing = false;
        break;
    }
  }
  if (all_failing && plan_.end_ns == INT64_MAX && !slots_.empty()) gave_up_ = true;
}

void Worker::roll_seconds(std::int64_t now) {
  if (now < plan_.measure_start_ns) return;
  const std::int64_t second = (now - plan_.measure_start_ns) / kSecond;
  while (second_ < second) {
    {
      std::lock_guard lock(seconds_mutex_);
      seconds_.emplace_back(static_cast<std::uint32_t>(second_), current_);
    }
    current_ = TimelineSecond{};
    ++second_;
  }
}

std::vector<std::pair<std::uint32_t, TimelineSecond>> Worker::take_seconds() {
  std::lock_guard lock(seconds_mutex_);
  return std::exchange(seconds_, {});
}

bool Worker::finished(std::int64_t now) const {
  if (gave_up_ || now >= plan_.end_ns || plan_.stop.load(std::memory_order_relaxed)) return true;
  if (open_loop_) {
    return open_loop_limit_ != UINT64_MAX && next_k_ == open_loop_limit_ && backlog_ == 0 &&
           in_flight_total_ == 0;
  }
  return quota_ == 0 && in_flight_total_ == 0;
}

void Worker::run() {
  // The kernel may fire a sleeping thread's timer up to 50 us late (timer
  // slack) to batch wake-ups; an open-loop schedule would carry that into
  // every corrected latency. 1 ns asks for no slack.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  epoll_ = Fd(epoll_create1(EPOLL_CLOEXEC));
  std::vector<epoll_event> events(kMaxEvents);
  std::int64_t now = now_ns();
  if (ramp_interval_ns_ == 0) {
    for (std::size_t i = 0; i < slots_.size(); ++i) start_connect(i, now);
    ramp_next_ = slots_.size();
  }
  next_tick_ns_ = now + tick_ns_;

  for (;;) {
    now = now_ns();
    while (ramp_next_ < slots_.size() &&
           plan_.start_ns + static_cast<std::int64_t>(ramp_next_) * ramp_interval_ns_ <= now) {
      start_connect(ramp_next_++, now);
    }
    if (open_loop_) assign_due(now);
    if (finished(now)) break;
    if (now >= next_tick_ns_) {
      housekeeping(now);
      next_tick_ns_ = now + tick_ns_;
    }
    roll_seconds(now);

    // Sleep until the next thing the loop must do by the clock.
    std::int64_t wake = std::min(next_tick_ns_, plan_.end_ns);
    wake = std::min(wake, now < plan_.measure_start_ns
                              ? plan_.measure_start_ns
                              : plan_.measure_start_ns + (second_ + 1) * kSecond);
    if (ramp_next_ < slots_.size()) {
      wake = std::min(wake,
                      plan_.start_ns + static_cast<std::int64_t>(ramp_next_) * ramp_interval_ns_);
    }
    if (open_loop_ && next_k_ < open_loop_limit_) wake = std::min(wake, schedule_.time(next_k_));
    const std::int64_t wait = std::max<std::int64_t>(0, wake - now);
    const timespec timeout{wait / kSecond, wait % kSecond};
    // epoll_pwait2 takes a nanosecond timeout: epoll_wait's milliseconds
    // would bunch an open-loop schedule into 1 ms bursts.
    const int n = epoll_pwait2(epoll_.get(), events.data(), kMaxEvents, &timeout, nullptr);
    // Past the window's end nothing more is counted: the loop ends next turn.
    if (n > 0 && now_ns() >= plan_.end_ns) continue;
    for (int e = 0; e < n; ++e) {
      const std::size_t i = events[e].data.u64 & 0xffffffffu;
      const auto generation = static_cast<std::uint32_t>(events[e].data.u64 >> 32);
      if (i < slots_.size() && slots_[i].generation == generation) on_event(i, events[e].events);
    }
  }

  finished_ns_ = now;
  close_window(std::min(now, plan_.end_ns));
  roll_seconds(std::min(now, plan_.end_ns - 1));
  if (now >= plan_.measure_start_ns &&
      (current_.requests != 0 || current_.errors != 0 ||
       plan_.measure_start_ns + second_ * kSecond < plan_.end_ns)) {
    std::lock_guard lock(seconds_mutex_);
    seconds_.emplace_back(static_cast<std::uint32_t>(second_), current_);
  }
  done_.store(true, std::memory_order_release);
}

}  // namespace iomodels::loadgen
