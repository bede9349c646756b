#include "servers/common/blocking_session.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>

#include "net/socket.hpp"
#include "protocol/router.hpp"
#include "servers/common/shutdown.hpp"

namespace iomodels {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadBuffer = 16 * 1024;
// Lingering close: how long and how much we read and discard at most.
constexpr int kLingerMs = 1000;
constexpr std::size_t kLingerBytes = 1 << 20;

bool flush(int fd, http::OutputQueue& out) {
  iovec iov[64];
  while (!out.empty()) {
    int count = out.gather(iov, 64);
    IoResult r = writev_some(fd, iov, count);
    if (r.status != IoStatus::Ok) return false;  // peer gone, or shutdown woke us
    out.consume(r.bytes);
  }
  return true;
}

// A blocking read() that gives up after `ms`: SO_RCVTIMEO. Only set while a
// request is half received, so the common path costs no extra system call.
void set_read_timeout(int fd, std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = ms.count() / 1000;
  tv.tv_usec = (ms.count() % 1000) * 1000;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

}  // namespace

void serve_blocking_connection(Fd connection, const SessionConfig& config) {
  const int fd = connection.get();
  shutdown::watch(fd);
  set_nodelay(fd);

  http::RequestParser parser(config.limits);
  http::OutputQueue out;
  auto buffer = std::make_unique_for_overwrite<char[]>(kReadBuffer);
  const auto header_timeout = std::chrono::milliseconds(config.header_timeout_ms);
  bool timing = false;  // a half-received request is being timed
  Clock::time_point request_started;
  bool close = false;
  bool linger = false;

  while (!close && !shutdown::requested()) {
    IoResult r = read_some(fd, {buffer.get(), kReadBuffer});
    if (r.status == IoStatus::Again && timing) {
      // SO_RCVTIMEO expired: the header section did not arrive in time.
      http::serialize(http::error_response(408), config.server_name, out);
      close = linger = true;
    } else if (r.status != IoStatus::Ok) {
      break;  // EOF, reset, or shutdown() from the signal handler
    }

    // Every complete request in this read is answered, in order, before the
    // next read; the answers leave together in as few writes as possible.
    std::span<const char> data(buffer.get(), r.status == IoStatus::Ok ? r.bytes : 0);
    while (!close && !data.empty()) {
      http::ParseResult parsed = parser.parse(data);
      data = data.subspan(parsed.consumed);
      if (parsed.status == http::ParseStatus::NeedMore) break;
      if (parsed.status == http::ParseStatus::Error) {
        http::serialize(http::error_response(parser.error_status()), config.server_name, out);
        close = linger = true;
        break;
      }
      http::Plan plan = http::route(parser.request(), config.limits);
      if (plan.action != http::Action::Respond) {
        // The earlier answers need not wait for this one's simulated work.
        if (!flush(fd, out)) return;
        bool done = plan.action == http::Action::SleepThenRespond
                        ? shutdown::sleep_ms(plan.sleep_ms)
                        : shutdown::burn_cpu_us(plan.cpu_us);
        if (!done) return;  // shutting down
      }
      http::serialize(plan.response, config.server_name, out);
      close = plan.response.close;
      linger = close && plan.response.status >= 400;
    }
    if (!flush(fd, out)) break;

    // The header timeout runs from a request's first byte until its header
    // section is complete; an idle connection between requests is not timed.
    bool waiting_for_header = parser.in_progress() && !parser.headers_complete();
    if (waiting_for_header && !close) {
      auto now = Clock::now();
      if (!timing) {
        timing = true;
        request_started = now;
      }
      auto left =
          std::chrono::ceil<std::chrono::milliseconds>(request_started + header_timeout - now);
      set_read_timeout(fd, std::max(left, std::chrono::milliseconds(1)));
    } else if (timing) {
      timing = false;
      set_read_timeout(fd, std::chrono::milliseconds(0));
    }
  }
  out.release_memory();
  shutdown::unwatch(fd);
  if (linger && !shutdown::requested()) lingering_close(std::move(connection));
}

Fd accept_blocking(int listener, std::string_view model) {
  Fd client(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (!client && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)) {
    // The client stays in the backlog until a connection closes and frees a
    // descriptor. Retrying at once would spin, so wait a little.
    const int error = errno;
    static Clock::time_point last_said;
    if (Clock::now() - last_said >= std::chrono::seconds(1)) {
      last_said = Clock::now();
      std::fprintf(stderr, "server-%.*s: accept: %s; retrying every 100 ms\n",
                   static_cast<int>(model.size()), model.data(), std::strerror(error));
    }
    shutdown::sleep_ms(100);
  }
  // Anything else (ECONNABORTED, EINTR, EINVAL once the listener was shut
  // down) concerns one client, or is the stop the caller's loop checks for.
  return client;
}

void lingering_close(Fd connection) {
  const int fd = connection.get();
  ::shutdown(fd, SHUT_WR);
  char discard[4096];
  std::size_t total = 0;
  auto deadline = Clock::now() + std::chrono::milliseconds(kLingerMs);
  pollfd watch[2] = {{fd, POLLIN, 0}, {shutdown::event_fd(), POLLIN, 0}};
  while (total < kLingerBytes) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 || ::poll(watch, 2, static_cast<int>(left)) <= 0 || watch[1].revents) break;
    IoResult r = read_some(fd, {discard, sizeof discard});
    if (r.status != IoStatus::Ok) break;  // EOF: the client has read and closed
    total += r.bytes;
  }
  // connection's destructor closes the socket.
}

}  // namespace iomodels
