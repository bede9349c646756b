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

std::uint64_t token(std::size_t index, std::uint32_t generation) {
  return (static_cast<std::uint64_t>(generation) << 32) | index;
}

}  // namespace

std::int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * kSecond + ts.tv_nsec;
}

Worker::Worker(const Plan& plan, int slots, int first_slot, std::uint64_t quota, double rate)
    : plan_(plan),
      config_(*plan.config),
      slots_(static_cast<std::size_t>(slots)),
      first_slot_(first_slot),
      quota_(quota),
      rate_(rate),
      // Scanning every connection for timeouts is the loop's only O(n) work;
      // with thousands of connections it runs less often (timeouts are then
      // noticed up to 50 ms late, against a default timeout of seconds).
      tick_ns_(slots <= 2000 ? 10'000'000 : 50'000'000),
      buffer_(64 * 1024) {
  for (auto& s : slots_) {
    s.parser = ResponseParser(config_.pattern_length);
    s.ring.resize(static_cast<std::size_t>(config_.pipeline));
  }
  if (config_.connect_rate > 0) {
    ramp_interval_ns_ = static_cast<std::int64_t>(kSecond * config_.threads / config_.connect_rate);
  }
  if (rate_ > 0 && quota_ != UINT64_MAX) {
    // The measured requests are the first `quota` scheduled after the warm-up.
    std::uint64_t first = static_cast<std::uint64_t>(
        std::max(0.0, std::floor((plan_.measure_start_ns - plan_.start_ns) * rate_ / kSecond)));
    while (first > 0 && scheduled_time(first - 1) >= plan_.measure_start_ns) --first;
    while (scheduled_time(first) < plan_.measure_start_ns) ++first;
    open_loop_limit_ = first + quota_;
  }
}

Worker::~Worker() = default;

std::int64_t Worker::scheduled_time(std::uint64_t k) const {
  return plan_.start_ns + static_cast<std::int64_t>(static_cast<double>(k) * kSecond / rate_);
}

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
  const Address& target = plan_.target;
  Fd fd(::socket(target.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return connect_failed(i, errno, false, now);
  set_nodelay(fd.get());
  if (!plan_.sources.empty()) {
    const Address& source = plan_.sources[(first_slot_ + i) % plan_.sources.size()];
    // Without IP_BIND_ADDRESS_NO_PORT, bind() picks the port before the
    // destination is known, so every source address is limited to one
    // ephemeral range over all destinations; with it, the port is chosen at
    // connect() per (source, destination) pair.
    int one = 1;
    setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&source.addr), source.len) < 0) {
      return connect_failed(i, errno, false, now);
    }
  }
  const int rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&target.addr), target.len);
  if (rc < 0 && errno != EINPROGRESS) return connect_failed(i, errno, false, now);

  s.fd = std::move(fd);
  ++s.generation;
  epoll_event ev{};
  ev.events = rc == 0 ? EPOLLIN : EPOLLIN | EPOLLOUT;
  ev.data.u64 = token(i, s.generation);
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, s.fd.get(), &ev) < 0) {
    s.fd.reset();
    return connect_failed(i, errno, false, now);
  }
  s.want_out = rc != 0;
  s.state = State::Connecting;
  s.deadline_ns = now + config_.connect_timeout_ns;
  if (rc == 0) on_connected(i, now);
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

void Worker::close_slot(std::size_t i) {
  Slot& s = slots_[i];
  for (std::uint32_t n = 0; n < s.in_flight; ++n) {
    if (measured(s.ring[(s.head + n) % s.ring.size()].scheduled_ns)) ++totals_.failed;
  }
  in_flight_total_ -= s.in_flight;
  s.in_flight = 0;
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
  if (rate_ == 0 && quota_ == 0) {
    slots_[i].state = State::Finished;
    return;
  }
  start_connect(i, now);
}

void Worker::fail(std::size_t i, Kind kind, std::int64_t now) {
  roll_seconds(now);
  if (measured(now)) {
    ErrorCounts& e = totals_.errors;
    switch (kind) {
      case Kind::Read:
        ++e.read;
        break;
      case Kind::Reset:
        ++e.reset;
        break;
      case Kind::Write:
        ++e.write;
        break;
      case Kind::Timeout:
        ++e.timeout;
        break;
      case Kind::Parse:
        ++e.parse;
        break;
    }
    ++current_.errors;
  }
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
  if ((events & EPOLLOUT) && s.write_begin != s.write_end && !flush(i)) return;
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
  if (rate_ == 0) {
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

  const std::size_t n = slots_.size();
  for (std::uint64_t j = 0; j < k; ++j) {
    std::int64_t scheduled = now;
    if (rate_ > 0) {
      scheduled = scheduled_time(i + s.sent_seq * n);
      ++s.sent_seq;
      --backlog_;
    }
    s.ring[(s.head + s.in_flight) % depth] = {scheduled, now};
    ++s.in_flight;
    if (measured(scheduled)) {
      ++totals_.sent;
      if (rate_ == 0 && quota_ != UINT64_MAX) --quota_;
    }
  }
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
  if (measured(request.scheduled_ns)) {
    roll_seconds(now);
    const auto latency = static_cast<std::uint64_t>(now - request.scheduled_ns);
    corrected_.record(latency);
    if (rate_ > 0) uncorrected_.record(static_cast<std::uint64_t>(now - request.sent_ns));
    current_.histogram.record(latency);
    ++current_.requests;
    ++totals_.requests;
    ++totals_.status[r.status >= 0 && r.status < 600 ? r.status : 0];
    if (r.status >= 400) {
      ++totals_.errors.status;
      ++current_.errors;
    } else if (!r.body_ok) {
      ++totals_.errors.body;
      ++current_.errors;
    }
  }
  if (!r.keep_alive) {
    // The server closes after this response (Connection: close).
    if (s.in_flight != 0) return fail(i, Kind::Read, now);
    reconnect(i, now);
  }
}

void Worker::assign_due(std::int64_t now) {
  const std::size_t n = slots_.size();
  while (next_k_ < open_loop_limit_) {
    const std::int64_t t = scheduled_time(next_k_);
    if (t > now || t >= plan_.end_ns) break;
    const std::size_t i = next_k_ % n;
    ++slots_[i].due;
    ++backlog_;
    if (measured(t)) ++totals_.scheduled;
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
  if (quota_ == UINT64_MAX) return false;
  if (rate_ == 0) return quota_ == 0 && in_flight_total_ == 0;
  return next_k_ == open_loop_limit_ && backlog_ == 0 && in_flight_total_ == 0;
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
    if (rate_ > 0) assign_due(now);
    if (now >= next_tick_ns_) {
      housekeeping(now);
      next_tick_ns_ = now + tick_ns_;
    }
    roll_seconds(now);
    if (finished(now)) break;

    // Sleep until the next thing the loop must do by the clock.
    std::int64_t wake = std::min(next_tick_ns_, plan_.end_ns);
    wake = std::min(wake, now < plan_.measure_start_ns
                              ? plan_.measure_start_ns
                              : plan_.measure_start_ns + (second_ + 1) * kSecond);
    if (ramp_next_ < slots_.size()) {
      wake = std::min(wake,
                      plan_.start_ns + static_cast<std::int64_t>(ramp_next_) * ramp_interval_ns_);
    }
    if (rate_ > 0 && next_k_ < open_loop_limit_) wake = std::min(wake, scheduled_time(next_k_));
    const std::int64_t wait = std::max<std::int64_t>(0, wake - now);
    const timespec timeout{wait / kSecond, wait % kSecond};
    // epoll_pwait2 takes a nanosecond timeout: epoll_wait's milliseconds
    // would bunch an open-loop schedule into 1 ms bursts.
    const int n = epoll_pwait2(epoll_.get(), events.data(), kMaxEvents, &timeout, nullptr);
    for (int e = 0; e < n; ++e) {
      const std::size_t i = events[e].data.u64 & 0xffffffffu;
      const auto generation = static_cast<std::uint32_t>(events[e].data.u64 >> 32);
      if (i < slots_.size() && slots_[i].generation == generation) on_event(i, events[e].events);
    }
  }

  finished_ns_ = now;
  // Requests still out when the time is up are neither answered nor failed.
  for (auto& s : slots_) {
    for (std::uint32_t n = 0; n < s.in_flight; ++n) {
      if (measured(s.ring[(s.head + n) % s.ring.size()].scheduled_ns)) ++totals_.unfinished;
    }
    s.in_flight = 0;
    if (s.ever_opened) ++totals_.slots_opened;
    s.fd.reset();
  }
  totals_.slots = slots_.size();
  in_flight_total_ = 0;
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
