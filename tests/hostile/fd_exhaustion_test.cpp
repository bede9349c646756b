// Descriptor exhaustion: the server runs with RLIMIT_NOFILE 64 (soft and
// hard, as `prlimit --nofile=64` would) and 300 clients connect at once. The
// kernel completes their handshakes into the listen backlog whatever the
// server does; accept() then fails with EMFILE. With level-triggered epoll a
// listener that stays readable turns that into a busy loop, and a naive
// accept loop retries at full speed. Checked: the clients the server already
// had are still served; the server's CPU time over 3 idle seconds stays near
// zero (no spin); once the 300 leave, a new client is served again.
#include <gtest/gtest.h>

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

// "Near zero": a spinning server burns the whole 3000 ms.
constexpr std::uint64_t kIdleCpuBoundMs = 300;

bool keepalive_hello(int fd) {
  if (!send_all(fd, "GET /hello HTTP/1.1\r\nHost: hostile\r\n\r\n")) return false;
  std::string pending;
  auto r = read_response(fd, pending);
  return r && r->status == 200 && r->body == "Hello, World!";
}

TEST(Hostile, DescriptorExhaustionNeitherStarvesNorSpins) {
  ServerLaunch l = launch();
  l.nofile = 64;
  ServerProcess server(l);

  const int existing_count = serves_one_at_a_time() ? 1 : 5;
  std::vector<Fd> existing;
  for (int i = 0; i < existing_count; ++i) {
    existing.push_back(connect_loopback(server.port()));
    ASSERT_TRUE(existing.back());
    ASSERT_TRUE(keepalive_hello(existing.back().get())) << "existing client " << i;
  }

  std::vector<Fd> flood;
  for (int i = 0; i < 300; ++i) {
    flood.push_back(connect_nonblocking(server.port()));
    ASSERT_TRUE(flood.back());
  }
  // Let the server run into EMFILE.
  std::this_thread::sleep_for(milliseconds(1000));
  ASSERT_TRUE(server.alive()) << "the server died at EMFILE";
  EXPECT_LE(server.open_fds(), 64);

  int served = 0;
  for (auto& fd : existing) served += keepalive_hello(fd.get()) ? 1 : 0;
  EXPECT_EQ(served, existing_count) << "existing clients not served while out of descriptors";

  const std::uint64_t cpu_before = server.cpu_ms();
  std::this_thread::sleep_for(milliseconds(3000));
  const std::uint64_t idle_cpu = server.cpu_ms() - cpu_before;
  EXPECT_LT(idle_cpu, kIdleCpuBoundMs * kSanitizerFactor) << "the server spins while out of descriptors";

  // The flood leaves; so do the existing clients (the blocking server needs
  // its one client gone to get to anyone else).
  for (auto& fd : flood) reset_connection(std::move(fd));
  existing.clear();
  const auto t0 = Clock::now();
  std::optional<HttpResponse> r;
  while (!(r = get_once(server.port(), "/hello", 2000)) && Clock::now() - t0 < milliseconds(15'000)) {
    std::this_thread::sleep_for(milliseconds(200));
  }
  const long recover_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
  ASSERT_TRUE(r && r->status == 200) << "not served again 15 s after the flood left";
  EXPECT_TRUE(server.alive());
  report_figure("fd exhaustion",
                "RLIMIT_NOFILE 64, 300 connects: " + std::to_string(served) + "/" +
                    std::to_string(existing_count) + " existing clients served, " +
                    std::to_string(idle_cpu) + " ms CPU in 3 idle s (bound " +
                    std::to_string(kIdleCpuBoundMs * kSanitizerFactor) + "), served again " +
                    std::to_string(recover_ms) + " ms after the flood left");
}

}  // namespace
}  // namespace iomodels::hostile
