// loadgen against a server: the binary is run as a user would run it, and
// its JSON is checked. The server is TestServer (in this process) or, where
// built, the project's server-epoll.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "loadgen/latency_histogram.hpp"
#include "loadgen/tests/run_helpers.hpp"
#include "loadgen/tests/test_server.hpp"

using namespace iomodels::loadgen;
using namespace iomodels::loadgen::testing;
using nlohmann::json;

namespace {

TEST(LoadgenRun, ClosedLoopCountsAddUp) {
  TestServer server;
  const Output o = loadgen({"-c", "8", "-t", "2", "-d", "1s", "-p", "2", url(server.port())});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  expect_consistent(o.result);
  EXPECT_GT(u(o.result, "requests"), 100u);
  EXPECT_EQ(u(o.result["errors"], "total"), 0u);
  EXPECT_EQ(u(o.result["connections"], "opened"), 8u);
  EXPECT_NE(o.out.find("Requests/sec"), std::string::npos);
}

TEST(LoadgenRun, RequestsSendsExactlyN) {
  TestServer server;
  const Output o = loadgen({"-c", "7", "-t", "2", "-n", "5003", "-p", "3", url(server.port())});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  expect_consistent(o.result);
  EXPECT_EQ(u(o.result, "sent"), 5003u);
  EXPECT_EQ(u(o.result, "requests"), 5003u);
  EXPECT_EQ(server.requests_seen(), 5003u);
}

TEST(LoadgenRun, WarmupIsExcluded) {
  TestServer server;
  const Output o = loadgen({"-c", "2", "-w", "1s", "-d", "1s", url(server.port())});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  expect_consistent(o.result);
  EXPECT_NEAR(o.result["duration_s"].get<double>(), 1.0, 0.05);
  // The server answered during the warm-up too; none of that is counted.
  EXPECT_GT(server.requests_seen(), u(o.result, "sent"));
  EXPECT_LE(o.result["timeline"].size(), 2u);
}

TEST(LoadgenRun, ConnectRateRampsUp) {
  TestServer server;
  const Output o = loadgen({"-c", "5", "--connect-rate", "10", "-d", "1s", url(server.port())});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  EXPECT_EQ(u(o.result["connections"], "opened"), 5u);
}

TEST(LoadgenRun, ConnRequestsReconnects) {
  TestServer server;
  const Output o = loadgen({"-c", "2", "-n", "200", "--conn-requests", "10", url(server.port())});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  EXPECT_EQ(u(o.result, "requests"), 200u);
  EXPECT_EQ(server.requests_seen(), 200u);
}

TEST(LoadgenRun, OpenLoopRateIsKept) {
  TestServer server;
  const Output o = loadgen({"-c", "10", "-d", "3s", "-R", "2000", url(server.port())});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  expect_consistent(o.result);
  EXPECT_NEAR(static_cast<double>(u(o.result, "sent")), 6000.0, 120.0);
  EXPECT_NEAR(static_cast<double>(u(o.result, "requests")), 6000.0, 120.0);
  EXPECT_TRUE(o.result["rate_sustained"].get<bool>());
  EXPECT_TRUE(o.result.contains("latency_uncorrected_us"));
}

TEST(LoadgenRun, OpenLoopWithRequestsSendsExactlyN) {
  TestServer server;
  const Output o = loadgen({"-c", "4", "-n", "777", "-R", "5000", url(server.port())});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  EXPECT_EQ(u(o.result, "requests"), 777u);
  EXPECT_EQ(server.requests_seen(), 777u);
}

TEST(LoadgenRun, StallShowsInCorrectedTailNotUncorrectedMedian) {
  TestServer server;
  std::thread staller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    server.stall_for_ms(500);
  });
  const Output o = loadgen({"-c", "5", "-d", "3s", "-R", "500", url(server.port())});
  staller.join();
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  expect_consistent(o.result);
  // Corrected: requests scheduled at the stall's start waited all of it.
  EXPECT_GE(o.result["latency_us"]["max"].get<double>(), 500'000 * 0.95);
  // Uncorrected: only the few requests in flight at the stall saw it.
  EXPECT_LT(o.result["latency_uncorrected_us"]["p50"].get<double>(), 50'000);
  // And the corrected distribution carries the queue behind the stall.
  EXPECT_GT(o.result["latency_us"]["p90"].get<double>(),
            o.result["latency_uncorrected_us"]["p90"].get<double>());
}

void expect_sleep_20(const std::string& target) {
  const Output o = loadgen({"-c", "4", "-d", "2s", target});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  const double p50 = o.result["latency_us"]["p50"].get<double>();
  EXPECT_GE(p50, 20'000);
  EXPECT_LE(p50, 25'000);
}

TEST(LoadgenRun, Sleep20MedianOnTestServer) {
  TestServer server;
  expect_sleep_20(url(server.port(), "/sleep/20"));
}

#ifdef SERVER_EPOLL_PATH
// The project's server, started as the bench does: --port 0, then read the
// "listening on HOST:PORT" line.
TEST(LoadgenRun, Sleep20MedianOnServerEpoll) {
  if (access(SERVER_EPOLL_PATH, X_OK) != 0) GTEST_SKIP() << SERVER_EPOLL_PATH << " not built";
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(pipe_fds[1], 1);
    close(pipe_fds[0]);
    execl(SERVER_EPOLL_PATH, SERVER_EPOLL_PATH, "--port", "0", nullptr);
    _exit(127);
  }
  close(pipe_fds[1]);
  FILE* out = fdopen(pipe_fds[0], "r");
  char line[256] = {};
  ASSERT_NE(fgets(line, sizeof line, out), nullptr);
  const std::string text = line;
  const auto colon = text.rfind(':');
  ASSERT_NE(colon, std::string::npos) << text;
  const auto port = static_cast<std::uint16_t>(std::stoi(text.substr(colon + 1)));
  expect_sleep_20(url(port, "/sleep/20"));
  const Output bytes = loadgen({"-c", "4", "-n", "2000", url(port, "/bytes/5000")});
  EXPECT_EQ(bytes.status, 0) << bytes.out << bytes.err;
  EXPECT_EQ(u(bytes.result["errors"], "body"), 0u);
  // POST /echo with a body and an extra header, pipelined.
  const Output echo = loadgen({"-c", "2", "-n", "500", "-p", "4", "-b", "hello, echo", "-H",
                               "X-Test: 1", url(port, "/echo")});
  EXPECT_EQ(echo.status, 0) << echo.out << echo.err;
  EXPECT_EQ(u(echo.result["status"], "200"), 500u);
  EXPECT_EQ(echo.result["config"]["method"], "POST");
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  fclose(out);
}
#endif

TEST(LoadgenRun, ResetIsCountedAsReset) {
  TestServer server(Behaviour::Reset);
  const Output o = loadgen({"-c", "4", "-d", "1s", url(server.port())});
  EXPECT_EQ(o.status, 3) << o.out << o.err;
  expect_consistent(o.result);
  EXPECT_GT(u(o.result["errors"], "reset"), 0u);
  EXPECT_EQ(u(o.result["errors"], "parse"), 0u);
  EXPECT_EQ(u(o.result, "requests"), 0u);
}

TEST(LoadgenRun, GarbageIsCountedAsParse) {
  TestServer server(Behaviour::Garbage);
  const Output o = loadgen({"-c", "4", "-d", "1s", url(server.port())});
  EXPECT_EQ(o.status, 3) << o.out << o.err;
  expect_consistent(o.result);
  EXPECT_GT(u(o.result["errors"], "parse"), 0u);
  EXPECT_EQ(u(o.result["errors"], "reset"), 0u);
}

TEST(LoadgenRun, WrongStatusIsCountedAsStatus) {
  TestServer server(Behaviour::Status500);
  const Output o = loadgen({"-c", "4", "-n", "300", url(server.port())});
  EXPECT_EQ(o.status, 3) << o.out << o.err;
  expect_consistent(o.result);
  EXPECT_EQ(u(o.result["errors"], "status"), 300u);
  EXPECT_EQ(u(o.result["status"], "500"), 300u);
}

TEST(LoadgenRun, BytesBodyIsChecked) {
  TestServer good;
  const Output ok = loadgen({"-c", "2", "-n", "200", url(good.port(), "/bytes/3000")});
  EXPECT_EQ(ok.status, 0) << ok.out << ok.err;
  EXPECT_EQ(u(ok.result["errors"], "body"), 0u);
  TestServer corrupt(Behaviour::CorruptBody);
  const Output bad = loadgen({"-c", "2", "-n", "200", url(corrupt.port(), "/bytes/3000")});
  EXPECT_EQ(bad.status, 3);
  EXPECT_EQ(u(bad.result["errors"], "body"), 200u);
}

TEST(LoadgenRun, RefusedConnectionsAreCountedAndSaidLoudly) {
  std::uint16_t port;
  {
    TestServer gone;  // a port that was free a moment ago and is closed now
    port = gone.port();
  }
  const Output o = loadgen({"-c", "3", "-d", "500ms", url(port)});
  EXPECT_EQ(o.status, 3);
  EXPECT_GT(u(o.result["errors"], "connect_refused"), 0u);
  EXPECT_EQ(u(o.result["connections"], "not_opened"), 3u);
  EXPECT_NE(o.out.find("asked 3, got 0"), std::string::npos) << o.out;
}

TEST(LoadgenRun, MoreConnectionsThanFdsIsAClearError) {
  TestServer server;
  const Output o = loadgen({"-c", "100", "-d", "1s", url(server.port())}, 64);
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("raise ulimit -n"), std::string::npos) << o.err;
  EXPECT_EQ(server.requests_seen(), 0u);  // refused before starting
}

TEST(LoadgenRun, BadOptionsExit2) {
  EXPECT_EQ(run(LOADGEN_PATH, {"--connections", "0", "http://127.0.0.1:1/"}).status, 2);
  EXPECT_EQ(run(LOADGEN_PATH, {"-d", "ten", "http://127.0.0.1:1/"}).status, 2);
  EXPECT_EQ(run(LOADGEN_PATH, {"--no-such-option"}).status, 2);
  EXPECT_EQ(run(LOADGEN_PATH, {"ftp://x/"}).status, 2);
  EXPECT_EQ(run(LOADGEN_PATH, {"--help"}).status, 0);
}

TEST(LoadgenRun, MergeAddsCountsAndHistograms) {
  TestServer server;
  const auto outs = side_by_side(
      {{"-c", "2", "-d", "1s", url(server.port())}, {"-c", "3", "-d", "1s", url(server.port())}});
  ASSERT_EQ(outs[0].status, 0) << outs[0].err;
  ASSERT_EQ(outs[1].status, 0) << outs[1].err;
  TempDir dir;
  const Output m = merge(dir, {outs[0].result, outs[1].result});
  ASSERT_EQ(m.status, 0) << m.err;
  expect_merged_is_sum(m.result, {outs[0].result, outs[1].result});
  EXPECT_EQ(u(m.result["config"], "connections"), 5u);
}

TEST(LoadgenRun, SigintStopsEarlyAndStillWritesResults) {
  TestServer server;
  TempDir dir;
  const std::string json_path = dir.file("r.json");
  const pid_t pid = fork();
  if (pid == 0) {
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    const std::string target = url(server.port());
    execl(LOADGEN_PATH, LOADGEN_PATH, "-q", "-c", "2", "-d", "60s", "--json", json_path.c_str(),
          target.c_str(), nullptr);
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const json r = json::parse(slurp(json_path));
  expect_consistent(r);
  EXPECT_TRUE(r["config"]["interrupted"].get<bool>());
  EXPECT_LT(r["duration_s"].get<double>(), 30.0);
  EXPECT_GT(u(r, "requests"), 0u);
}

TEST(LoadgenRun, SourceAddressesAreUsed) {
  TestServer server;
  const Output o = loadgen(
      {"-c", "8", "-n", "400", "--source-addrs", "127.0.0.1-127.0.0.4", url(server.port())});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  EXPECT_EQ(u(o.result, "requests"), 400u);
  EXPECT_EQ(o.result["config"]["source_addrs"].size(), 4u);
}

}  // namespace
