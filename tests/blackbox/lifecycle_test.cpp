// Start-up and shutdown (SPEC §4): --help, bad options and a port in use
// exit 2 with a message; SIGTERM/SIGINT end the server with status 0 within
// 2 s whatever its threads are blocked on.
#include <sys/wait.h>

#include <csignal>
#include <string>
#include <thread>

#include "tests/blackbox/suite.hpp"

namespace iomodels::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kStopWithin = 2000ms;

class Lifecycle : public BlackBox {
 protected:
  // Sends the signal and expects exit status 0 within kStopWithin.
  void expect_clean_stop(int signal = SIGTERM) {
    auto start = Clock::now();
    std::optional<int> status = server().stop(signal, kStopWithin + 3s);
    ASSERT_TRUE(status.has_value()) << "still running 5 s after the signal";
    EXPECT_LE(ms_since(start), kStopWithin.count()) << "stopped, but slowly";
    ASSERT_TRUE(WIFEXITED(*status)) << "killed by signal " << WTERMSIG(*status);
    EXPECT_EQ(WEXITSTATUS(*status), 0);
  }
};

TEST_F(Lifecycle, HelpExitsZero) {
  ExitResult r = run_to_exit(suite().binary, {"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--port"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--header-timeout-ms"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--body-timeout-ms"), std::string::npos) << r.out;
}

TEST_F(Lifecycle, BadOptionsExitTwoWithAMessage) {
  // --port 0 comes first wherever the port is not the point, so that a
  // server that wrongly starts does not take a fixed port.
  const std::vector<std::vector<std::string>> bad = {
      {"--port", "0", "--no-such-option"},
      {"--port", "70000"},
      {"--port", "http"},
      {"--port", "0", "--backlog", "0"},
      {"--port", "0", "--max-header-bytes", "x"},
      {"--port", "0", "--header-timeout-ms", "0"},
      {"--port", "0", "--header-timeout-ms", "-1"},
      {"--port", "0", "--body-timeout-ms", "0"},
      {"--port", "0", "--body-timeout-ms", "x"},
      {"--port", "0", "--body-timeout-ms", "86400001"},
      {"--port", "0", "stray-argument"}};
  for (const auto& args : bad) {
    std::string command;
    for (const std::string& a : args) command += a + " ";
    SCOPED_TRACE(command);
    ExitResult r = run_to_exit(suite().binary, args, 3s);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_FALSE(r.err.empty());
    // The message names the option at fault.
    const std::string& named = args.size() > 2 ? args[2] : args[0];
    if (named.starts_with("--")) {
      EXPECT_NE(r.err.find(named.substr(2)), std::string::npos) << r.err;
    }
    EXPECT_EQ(r.out.find("listening on"), std::string::npos);
  }
}

TEST_F(Lifecycle, PortInUseExitsTwo) {
  start();
  ExitResult r = run_to_exit(suite().binary, {"--port", std::to_string(server().port())});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("in use"), std::string::npos) << r.err;
}

TEST_F(Lifecycle, SigtermWhenIdle) {
  start();
  expect_clean_stop(SIGTERM);
}

TEST_F(Lifecycle, SigintWhenIdle) {
  start();
  expect_clean_stop(SIGINT);
}

TEST_F(Lifecycle, SigtermWithIdleKeepAliveClient) {
  start();
  HttpConnection c = server().connect();
  ASSERT_TRUE(c.send(get_request("/hello")));
  READ_OK(r, c);
  EXPECT_EQ(r.status, 200);
  expect_clean_stop();
}

TEST_F(Lifecycle, SigtermWithSleepInFlight) {
  start();
  HttpConnection c = server().connect();
  ASSERT_TRUE(c.send(get_request("/sleep/10000")));
  std::this_thread::sleep_for(200ms);  // the server is sleeping on it now
  expect_clean_stop();
}

TEST_F(Lifecycle, SigtermWithCpuBurnInFlight) {
  start();
  HttpConnection c = server().connect();
  ASSERT_TRUE(c.send(get_request("/cpu/1000000")));
  std::this_thread::sleep_for(100ms);
  expect_clean_stop();
}

TEST_F(Lifecycle, SigtermWithHalfSentRequest) {
  start();
  HttpConnection c = server().connect();
  ASSERT_TRUE(c.send("GET /hello HTTP/1.1\r\nHost: te"));
  std::this_thread::sleep_for(100ms);
  expect_clean_stop();
}

// The server is blocked writing (or has a full output buffer): the client
// asked for 8 MiB and reads none of it.
TEST_F(Lifecycle, SigtermWithClientNotReading) {
  start();
  HttpConnection c = server().connect();
  ASSERT_TRUE(c.send(get_request("/bytes/8388608")));
  std::this_thread::sleep_for(200ms);
  expect_clean_stop();
}

TEST_F(Lifecycle, SigtermAfterTraffic) {
  start();
  for (int i = 0; i < 5; ++i) {
    HttpConnection c = server().connect();
    ASSERT_TRUE(c.send(get_request("/bytes/100000", "Connection: close\r\n")));
    READ_OK(r, c);
    EXPECT_EQ(r.status, 200);
  }
  expect_clean_stop();
}

}  // namespace
}  // namespace iomodels::testing
