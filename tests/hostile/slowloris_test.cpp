// Slowloris: many clients that start a request and send one header byte a
// second, forever. A server that waits for them politely runs out of threads
// or connections; SPEC §3 says it answers 408 once --header-timeout-ms has
// passed since the request's first byte, and closes.
//
// Checked for the concurrent models (500 slow connections): a normal client
// sent /hello every 250 ms is always answered, every slow connection gets a
// 408 and is closed, and none is dropped before the timeout. server-blocking
// serves one client at a time by design, so there the check is the bound the
// timeout gives: 3 slow clients hold a normal client back by at most
// 3 x the timeout, each of them gets its 408, and the normal client is served.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/hostile/hostile_config.hpp"
#include "tests/hostile/raw_client.hpp"

namespace iomodels::hostile {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kTimeoutMs = 2000;
// What the slow clients dribble out: never a complete header section.
const std::string kSlowRequest = "GET /hello HTTP/1.1\r\nHost: hostile\r\nX-Slow: " + std::string(200, 's');

struct SlowClient {
  Fd fd;
  std::size_t sent = 0;
  Clock::time_point first_byte;
  std::string received;
  bool closed = false;
  Clock::time_point closed_at;
};

double seconds_since(Clock::time_point t0, Clock::time_point t) {
  return std::chrono::duration<double>(t - t0).count();
}

TEST(Hostile, SlowlorisGets408AndNormalClientsAreServed) {
  const int slow_count = serves_one_at_a_time() ? 3 : 500;
  ServerProcess server(launch({"--header-timeout-ms", std::to_string(kTimeoutMs)}));

  std::vector<SlowClient> slow(slow_count);
  for (auto& c : slow) {
    c.fd = connect_nonblocking(server.port());
    ASSERT_TRUE(c.fd) << "connect failed";
  }

  // A normal client in its own thread, every 250 ms, each on a new connection.
  std::atomic<bool> stop{false};
  std::atomic<int> probes{0}, probe_failures{0};
  std::atomic<long> worst_probe_ms{0};
  std::thread prober([&] {
    while (!stop) {
      auto t0 = Clock::now();
      // Generous: a threaded pool of N serves a normal client only once the
      // slow ones ahead of it in the accept queue have timed out.
      auto r = get_once(server.port(), "/hello", 30'000);
      long ms = std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
      ++probes;
      if (!r || r->status != 200 || r->body != "Hello, World!") ++probe_failures;
      worst_probe_ms = std::max(worst_probe_ms.load(), ms);
      std::this_thread::sleep_for(milliseconds(250));
    }
  });

  // One byte per client per second until the server has closed them all.
  const auto start = Clock::now();
  const auto deadline = start + milliseconds(serves_one_at_a_time() ? 20'000 : 40'000);
  auto next_byte = start;
  std::size_t open = slow.size();
  while (open > 0 && Clock::now() < deadline) {
    if (Clock::now() >= next_byte) {
      for (auto& c : slow) {
        if (c.closed || c.sent >= kSlowRequest.size()) continue;
        if (::send(c.fd.get(), kSlowRequest.data() + c.sent, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) {
          if (c.sent++ == 0) c.first_byte = Clock::now();
        }
      }
      next_byte += milliseconds(1000);
    }
    std::vector<pollfd> watch;
    std::vector<SlowClient*> owner;
    for (auto& c : slow) {
      if (c.closed) continue;
      watch.push_back({c.fd.get(), POLLIN, 0});
      owner.push_back(&c);
    }
    ::poll(watch.data(), watch.size(), 100);
    for (std::size_t i = 0; i < watch.size(); ++i) {
      if (!watch[i].revents) continue;
      SlowClient& c = *owner[i];
      char buf[4096];
      ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        c.received.append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        c.closed = true;
        c.closed_at = Clock::now();
        c.fd.reset();
        --open;
      }
    }
  }
  stop = true;
  prober.join();

  int got_408 = 0, early = 0;
  double first_close = 1e9, last_close = 0;
  for (const auto& c : slow) {
    if (c.received.rfind("HTTP/1.1 408 ", 0) == 0) ++got_408;
    if (!c.closed) continue;
    double after = seconds_since(c.first_byte, c.closed_at);
    first_close = std::min(first_close, after);
    last_close = std::max(last_close, after);
    // The server's clock starts when it reads the first byte, after we sent
    // it: it can never close sooner than the timeout by our clock.
    if (after < (kTimeoutMs - 50) / 1000.0) ++early;
  }
  EXPECT_EQ(open, 0u) << "slow connections still open at the deadline";
  EXPECT_EQ(got_408, slow_count) << "slow connections that were not answered 408";
  EXPECT_EQ(early, 0) << "slow connections closed before --header-timeout-ms";
  EXPECT_GT(probes.load(), 0);
  EXPECT_EQ(probe_failures.load(), 0) << "normal requests that failed during the slowloris";
  if (serves_one_at_a_time()) {
    EXPECT_LT(worst_probe_ms.load(), slow_count * kTimeoutMs + 5000);
  }
  EXPECT_TRUE(server.alive());
  report_figure("slowloris",
                std::to_string(got_408) + "/" + std::to_string(slow_count) +
                    " slow connections got 408, closed " + std::to_string(first_close).substr(0, 4) +
                    "-" + std::to_string(last_close).substr(0, 5) + " s after their first byte (timeout " +
                    std::to_string(kTimeoutMs) + " ms); " + std::to_string(probes.load()) +
                    " normal requests, " + std::to_string(probe_failures.load()) + " failed, slowest " +
                    std::to_string(worst_probe_ms.load()) + " ms");
}

}  // namespace
}  // namespace iomodels::hostile
