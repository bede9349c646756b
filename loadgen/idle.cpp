#include "loadgen/idle.hpp"

#include <sys/epoll.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <vector>

#include "loadgen/connect.hpp"
#include "loadgen/response_parser.hpp"
#include "loadgen/run_support.hpp"
#include "loadgen/worker.hpp"
#include "net/socket.hpp"

namespace iomodels::loadgen {
namespace {

// Connects in flight at once: bounded so the listen backlog never overflows.
constexpr std::size_t kConnecting = 256;

struct Held {
  Fd fd;
  ResponseParser parser;
  enum class State { Connecting, Waiting, Answered, Gone } state = State::Connecting;
};

std::string error_name(int error) {
  const char* name = strerrorname_np(error);
  return name ? name : std::to_string(error);
}

class IdleHold {
 public:
  IdleHold(const Config& c, const Address& target, std::vector<Address> sources)
      : c_(c), target_(target), sources_(std::move(sources)), request_(build_request(c)) {
    conns_.reserve(c.idle);
    epoll_ = Fd(epoll_create1(EPOLL_CLOEXEC));
  }

  // Opens and asks; returns when all are answered, or the time allowed ran
  // out, or a signal came (false).
  bool open_all(const sigset_t& signals) {
    const std::int64_t start = now_ns();
    const std::int64_t deadline = start + c_.idle_open_timeout_ns;
    std::int64_t answer_deadline = INT64_MAX;
    std::vector<epoll_event> events(512);
    while (now_ns() < deadline) {
      while (!stop_opening_ && conns_.size() < c_.idle && connecting_ < kConnecting) start_one();
      const bool all_started = stop_opening_ || conns_.size() == c_.idle;
      if (all_started && connecting_ == 0) {
        if (answered_ == held()) break;
        if (answer_deadline == INT64_MAX) answer_deadline = now_ns() + c_.idle_answer_wait_ns;
        if (now_ns() >= answer_deadline) break;
      }
      poll_once(events, 200);
      timespec zero{0, 0};
      const int sig = sigtimedwait(&signals, nullptr, &zero);
      if (sig == SIGINT || sig == SIGTERM) return false;
    }
    if (held() < c_.idle && failure_.empty()) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "timed out after %.0f s", c_.idle_open_timeout_ns / 1e9);
      failure_ = buf;
    }
    return true;
  }

  // Silent until a signal or the deadline; notices a server that closes.
  void hold(const sigset_t& signals, std::int64_t deadline) {
    std::vector<epoll_event> events(512);
    while (now_ns() < deadline) {
      poll_once(events, 0);
      const std::int64_t left = std::min<std::int64_t>(deadline - now_ns(), 200'000'000);
      if (left <= 0) break;
      const timespec timeout{0, left};
      const int sig = sigtimedwait(&signals, nullptr, &timeout);
      if (sig == SIGINT || sig == SIGTERM) break;
    }
  }

  std::string line() const {
    std::string out =
        "holding " + std::to_string(held()) + " answered " + std::to_string(answered_);
    if (held() < c_.idle) {
      out += " of " + std::to_string(c_.idle) + ": " + failure_;
    } else if (answered_ < held()) {
      out += " of " + std::to_string(c_.idle) + ": " + std::to_string(held() - answered_) +
             " never answered";
    }
    return out;
  }

  std::uint64_t held() const { return held_; }
  std::uint64_t answered() const { return answered_; }
  std::uint64_t closed_while_held() const { return closed_while_held_; }
  const std::string& failure() const { return failure_; }

 private:
  void start_one() {
    const Address* source = sources_.empty() ? nullptr : &sources_[conns_.size() % sources_.size()];
    Connecting c = start_connection(target_, source);
    if (!c.fd) {
      // Stop asking for more: report what we got.
      failure_ = "connect: " + error_name(c.error);
      stop_opening_ = true;
      return;
    }
    Held& h = conns_.emplace_back();
    h.fd = std::move(c.fd);
    h.parser = ResponseParser(c_.pattern_length, c_.expect_no_body);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = conns_.size() - 1;
    epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, h.fd.get(), &ev);
    ++connecting_;
  }

  void poll_once(std::vector<epoll_event>& events, int timeout_ms) {
    const int n =
        epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), timeout_ms);
    for (int e = 0; e < n; ++e) on_event(events[e].data.u64, events[e].events);
  }

  void on_event(std::size_t i, std::uint32_t events) {
    Held& h = conns_[i];
    if (h.state == Held::State::Connecting) {
      --connecting_;
      int error = 0;
      socklen_t len = sizeof error;
      if (getsockopt(h.fd.get(), SOL_SOCKET, SO_ERROR, &error, &len) < 0) error = errno;
      // The request is small: it always fits an empty socket buffer.
      if (error == 0 && write_some(h.fd.get(), request_).status != IoStatus::Ok) error = EPIPE;
      if (error != 0) {
        failure_ = "connect: " + error_name(error);
        stop_opening_ = true;
        return drop(h);
      }
      ++held_;
      h.state = Held::State::Waiting;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, h.fd.get(), &ev);
      return;
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)) || h.state == Held::State::Gone) return;
    char buf[4096];
    const IoResult r = read_some(h.fd.get(), buf);
    if (r.status == IoStatus::Again) return;
    if (r.status != IoStatus::Ok) {
      if (failure_.empty()) {
        failure_ = r.status == IoStatus::Closed ? "server closed an idle connection"
                                                : std::string("read: ") + std::strerror(r.error);
      }
      if (h.state == Held::State::Answered) {
        --answered_;
        ++closed_while_held_;
      }
      --held_;
      return drop(h);
    }
    if (h.state != Held::State::Waiting) return;  // bytes after the answer: ignored
    const FeedResult f = h.parser.feed({buf, r.bytes});
    if (f.status == ParseStatus::Complete) {
      h.state = Held::State::Answered;
      ++answered_;
    } else if (f.status == ParseStatus::Error) {
      if (failure_.empty()) failure_ = "not an HTTP response";
    }
  }

  void drop(Held& h) {
    h.fd.reset();  // closing removes it from the epoll set
    h.state = Held::State::Gone;
  }

  const Config& c_;
  Address target_;
  std::vector<Address> sources_;
  std::string request_;
  Fd epoll_;
  std::vector<Held> conns_;
  std::size_t connecting_ = 0;
  std::uint64_t held_ = 0, answered_ = 0, closed_while_held_ = 0;
  bool stop_opening_ = false;
  std::string failure_;
};

}  // namespace

int run_idle(const Config& c) {
  if (!fd_limit_fits(c.idle, 1)) {
    std::cout << "holding 0 answered 0 of " << c.idle << ": fd limit too low (raise ulimit -n)"
              << std::endl;
    return kExitCannotRun;
  }
  Address target;
  std::vector<Address> sources;
  try {
    target.len = resolve(c.host, c.port, target.addr);
    for (const auto& s : c.source_addrs) {
      Address a;
      a.len = resolve(s, 0, a.addr);
      sources.push_back(a);
    }
  } catch (const std::exception& e) {
    std::cerr << "loadgen: " << e.what() << "\n";
    std::cout << "holding 0 answered 0 of " << c.idle << ": " << e.what() << std::endl;
    return kExitCannotRun;
  }
  const sigset_t signals = stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  const double start_unix = unix_now_s();
  IdleHold hold(c, target, std::move(sources));
  const bool opened = hold.open_all(signals);
  std::cout << hold.line() << std::endl;
  const std::int64_t held_from = now_ns();
  if (opened) hold.hold(signals, c.duration_given ? held_from + c.duration_ns : INT64_MAX);
  const bool complete = hold.held() == c.idle && hold.answered() == hold.held();
  if (!c.json_path.empty()) {
    const nlohmann::json j = {
        {"tool", "loadgen"},
        {"format_version", 2},
        {"mode", "idle"},
        {"host", host_name()},
        {"config",
         {{"url", c.url},
          {"idle", c.idle},
          {"source_addrs", c.source_addrs},
          {"idle_timeout_s", c.idle_open_timeout_ns / 1e9},
          {"idle_answer_wait_s", c.idle_answer_wait_ns / 1e9}}},
        {"idle",
         {{"asked", c.idle},
          {"held", hold.held()},
          {"answered", hold.answered()},
          {"closed_while_held", hold.closed_while_held()},
          {"failure", hold.failure().empty() ? nlohmann::json() : nlohmann::json(hold.failure())},
          {"line", hold.line()}}},
        {"start_unix_s", start_unix},
        {"held_s", (now_ns() - held_from) / 1e9}};
    if (!write_json(c.json_path, j)) return kExitCannotRun;
  }
  return complete ? 0 : kExitInvalidRun;
}

}  // namespace iomodels::loadgen
