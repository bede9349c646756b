// Every measured request accounted for, against a server that stalls or
// stops answering at different moments of the window, or answers oddly.
// Counts and bounds only: no timing is asserted beyond what the stall
// itself forces (a request held by a 700 ms stall waited at least ~0.5 s).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "loadgen/tests/run_helpers.hpp"
#include "loadgen/tests/test_server.hpp"

using namespace iomodels::loadgen::testing;

namespace {

// loadgen against a server that stalls `after_ms` after the start, for
// `for_ms` (from another thread).
Output with_stall(TestServer& server, int after_ms, int for_ms, std::vector<std::string> args) {
  std::thread staller([&server, after_ms, for_ms] {
    std::this_thread::sleep_for(std::chrono::milliseconds(after_ms));
    server.stall_for_ms(for_ms);
  });
  Output o = loadgen(std::move(args));
  staller.join();
  return o;
}

bool flag(const json& r, const char* key) {
  return r["latency_us"]["lower_bound"][key].get<bool>();
}

TEST(LoadgenAccounting, StallInTheMiddleIsAnsweredAndValid) {
  TestServer server;
  const Output o = with_stall(server, 700, 500, {"-c", "4", "-d", "2s", url(server.port())});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  expect_consistent(o.result);
  const json& out = o.result["outcomes"];
  // Closed loop: each connection has one request out when the window closes.
  EXPECT_EQ(u(out, "open_at_end"), 4u);
  EXPECT_EQ(u(out, "timed_out") + u(out, "never_sent"), 0u);
  EXPECT_GE(o.result["latency_us"]["max"].get<double>(), 400'000);
  // (Whether p50 or p99 is marked depends on how densely the answers lie
  // around it; the rule itself is unit-tested in censored_histogram_test.)
  EXPECT_EQ(u(o.result["fairness"], "answered"), 4u);
}

// The server stops answering for the rest of the window: the requests that
// fell due meanwhile are never sent or never answered, the tail is a lower
// bound, and the run is called invalid.
TEST(LoadgenAccounting, OpenLoopServerStopsNearTheEnd) {
  TestServer server;
  const Output o =
      with_stall(server, 1000, 3000, {"-c", "5", "-d", "2s", "-R", "500", url(server.port())});
  EXPECT_EQ(o.status, 3) << o.out << o.err;
  EXPECT_NE(o.err.find("stopped answering"), std::string::npos) << o.err;
  expect_consistent(o.result);
  const json& out = o.result["outcomes"];
  // About 500 requests fell due in the last second; 5 went out (one per
  // connection), the rest never left. (A whole second of silence: the
  // verdict allows 10 x the answered p99, which a sanitizer build on a busy
  // machine pushes past 50 ms.)
  EXPECT_LE(u(out, "open_at_end"), 5u);
  EXPECT_GE(u(out, "open_at_end") + u(out, "never_sent"), 100u);
  EXPECT_EQ(u(out, "measured"), u(o.result, "scheduled"));
  // Over 1% got no answer: the p99's rank lies beyond the answered ones.
  EXPECT_TRUE(flag(o.result, "p99"));
  EXPECT_TRUE(flag(o.result, "max"));
  EXPECT_TRUE(o.result["invalid_reason"].is_string());
  EXPECT_NE(o.out.find("≥"), std::string::npos) << o.out;
}

// A slow schedule is not a silent server: the request due just before the
// close is open with a small age, after half a second without answers.
TEST(LoadgenAccounting, LowRateOpenLoopIsValid) {
  TestServer server;
  const Output o = loadgen({"-c", "1", "-R", "2", "-d", "1000.05ms", url(server.port())});
  EXPECT_EQ(o.status, 0) << o.out << o.err;
  expect_consistent(o.result);
  EXPECT_EQ(u(o.result["outcomes"], "measured"), 3u);
  EXPECT_TRUE(o.result["invalid_reason"].is_null());
}

TEST(LoadgenAccounting, ClosedLoopServerStopsNearTheEnd) {
  TestServer server;
  const Output o = with_stall(server, 1300, 3000, {"-c", "4", "-d", "2s", url(server.port())});
  EXPECT_EQ(o.status, 3) << o.out << o.err;
  expect_consistent(o.result);
  EXPECT_EQ(u(o.result["outcomes"], "open_at_end"), 4u);
  // The four waited about 0.7 s: the max says so, as a lower bound.
  EXPECT_GE(o.result["latency_us"]["max"].get<double>(), 400'000);
  EXPECT_TRUE(flag(o.result, "max"));
}

// Requests sent in the warm-up and still waiting when the window opens are
// measured, with their whole wait.
TEST(LoadgenAccounting, StallDuringTheWarmupIsMeasured) {
  TestServer server;
  // Stalled from 0.4 s to 0.3 s into the window.
  const Output o =
      with_stall(server, 400, 900, {"-c", "4", "-w", "1s", "-d", "1s", url(server.port())});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  expect_consistent(o.result);
  EXPECT_GE(o.result["latency_us"]["max"].get<double>(), 600'000);
  // The window opened on four waiting connections: their first answers came
  // after the stall.
  EXPECT_GE(o.result["fairness"]["first_answer_us"]["p50"].get<double>(), 150'000);
  EXPECT_EQ(u(o.result["fairness"], "answered"), 4u);
}

TEST(LoadgenAccounting, SilentServerLeavesEveryConnectionUnanswered) {
  TestServer server(Behaviour::Silent);
  const Output o = loadgen({"-c", "3", "-d", "500ms", url(server.port())});
  EXPECT_EQ(o.status, 3);
  expect_consistent(o.result);
  EXPECT_EQ(u(o.result["outcomes"], "open_at_end"), 3u);
  EXPECT_EQ(u(o.result["outcomes"], "measured"), 3u);
  const json& f = o.result["fairness"];
  EXPECT_EQ(u(f, "connections"), 3u);
  EXPECT_EQ(u(f, "answered"), 0u);
  EXPECT_EQ(f["answered_share"].get<double>(), 0.0);
  EXPECT_TRUE(f["first_answer_us"]["lower_bound"]["p50"].get<bool>());
  EXPECT_TRUE(flag(o.result, "p50"));
}

TEST(LoadgenAccounting, InterimContinueIsNotTheAnswer) {
  TestServer server(Behaviour::Continue100);
  const Output o = loadgen({"-c", "2", "-n", "300", "-p", "3", url(server.port())});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  expect_consistent(o.result);
  EXPECT_EQ(u(o.result["outcomes"], "answered_2xx"), 300u);
  EXPECT_EQ(u(o.result["errors"], "parse"), 0u);
  EXPECT_FALSE(o.result["status"].contains("100"));
}

TEST(LoadgenAccounting, HeadExpectsNoBody) {
  TestServer server;
  const Output o =
      loadgen({"-c", "2", "-d", "1s", "--timeout", "300ms", "-m", "HEAD", url(server.port())});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  expect_consistent(o.result);
  EXPECT_GT(u(o.result["outcomes"], "answered_2xx"), 10u);
  EXPECT_EQ(u(o.result["outcomes"], "timed_out"), 0u);
}

// Open loop, a write the stalled server's small receive buffer makes
// partial: the request due meanwhile must go out when the write completes,
// not wait for an answer that never comes. On loopback the client's send
// buffer grows to 4 MiB, so the request is 5 MB of headers (arguments of
// 100 kB; a larger stack limit gives exec the room).
TEST(LoadgenAccounting, PartialWriteCompletedSendsWhatFellDue) {
  TestServer server(Behaviour::Silent, 4096);
  server.stall_for_ms(1200);
  std::vector<std::string> args{"-c", "1", "-p", "2", "-R", "1", "-d", "2500ms"};
  const std::string filler(100'000, 'x');
  for (int i = 0; i < 50; ++i) args.insert(args.end(), {"-H", "X-Filler: " + filler});
  args.push_back(url(server.port()));
  const Output o = loadgen(args, std::nullopt, rlim_t{64} << 20);
  expect_consistent(o.result);
  const json& out = o.result["outcomes"];
  // Due at 0, 1 and 2 s. The first write completes once the stall ends at
  // 1.2 s, and the request due at 1 s must leave then, not when the next
  // one falls due at 2 s (which finds both pipeline slots taken by requests
  // the silent server never answers). Its send lag tells which: about 0.2 s
  // plus the time to drain 5 MB, against a full second with the bug.
  EXPECT_EQ(u(out, "measured"), 3u) << o.err;
  EXPECT_EQ(u(out, "open_at_end"), 2u) << out.dump();
  EXPECT_EQ(u(out, "never_sent"), 1u);
  EXPECT_GT(u(o.result, "bytes_written"), 10'000'000u);
  EXPECT_LT(o.result["send_lag_us"]["max"].get<double>(), 900'000) << o.result["send_lag_us"].dump();
}

// Open-loop threads share one schedule: with -t 2 the requests keep the
// single-thread count and leave one by one (see also schedule_test.cpp).
TEST(LoadgenAccounting, OpenLoopThreadsShareOneSchedule) {
  TestServer server;
  const Output o = loadgen({"-c", "4", "-t", "2", "-n", "1000", "-R", "4000", url(server.port())});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  EXPECT_EQ(u(o.result["outcomes"], "answered_2xx"), 1000u);
  EXPECT_EQ(server.requests_seen(), 1000u);
  EXPECT_TRUE(o.result.contains("send_lag_us"));
  EXPECT_TRUE(o.result["schedule_kept"].is_boolean());
}

TEST(LoadgenAccounting, OverflowingOptionsAreRefused) {
  const std::string target = "http://127.0.0.1:1/";
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"-d", "9e9", target},
                                             {"-w", "1e11", target},
                                             {"--timeout", "1e300", target},
                                             {"-R", "1e-9", target},
                                             {"-R", "1e12", target},
                                             {"-n", "-1", target},
                                             {"-n", "99999999999999999999", target},
                                             {"--conn-requests", "-5", target},
                                             {"--connect-rate", "1e-30", target}}) {
    const Output o = run(LOADGEN_PATH, args);
    EXPECT_EQ(o.status, 2) << args[0] << " " << args[1] << ": " << o.err;
    EXPECT_NE(o.err.find("loadgen: "), std::string::npos) << o.err;
  }
  EXPECT_NE(run(LOADGEN_PATH, {"-d", "9e9", target}).err.find("too long"), std::string::npos);
}

// The window line comes first on stdout and matches the JSON's window.
TEST(LoadgenAccounting, WindowLineBeforeTheRun) {
  TestServer server;
  const Output o = loadgen({"-c", "2", "-w", "200ms", "-d", "300ms", url(server.port())});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  const auto at = o.out.find("window monotonic_ns ");
  ASSERT_NE(at, std::string::npos) << o.out;
  EXPECT_LT(at, o.out.find("Latency"));
  long long start = 0, end = 0;
  ASSERT_EQ(std::sscanf(o.out.c_str() + at, "window monotonic_ns %lld %lld", &start, &end), 2);
  EXPECT_EQ(o.result["window"]["start_monotonic_ns"].get<long long>(), start);
  EXPECT_EQ(o.result["window"]["end_monotonic_ns"].get<long long>(), end);
  EXPECT_EQ(end - start, 300'000'000);
  const Output n = loadgen({"-c", "1", "-n", "10", url(server.port())});
  EXPECT_NE(n.out.find(" open\n"), std::string::npos) << n.out;
}

}  // namespace
