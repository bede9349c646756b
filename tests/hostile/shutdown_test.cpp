// SIGTERM under load: clients busy with every kind of request (quick, large,
// sleeping, CPU-burning), plus an idle keep-alive connection and a client
// halfway through its header section. SPEC §4: the server exits with status
// 0, promptly (a thread blocked in read() on the idle connection must not
// hold the exit up).
//
// And the load generator when its server dies mid-run: it reports the
// failures by kind, exits non-zero, and still writes its JSON.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/hostile/hostile_config.hpp"
#include "tests/hostile/raw_client.hpp"

namespace iomodels::hostile {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

TEST(Hostile, SigtermUnderLoadExitsZeroPromptly) {
  ServerProcess server(launch());
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  const char* paths[] = {"/hello", "/bytes/262144", "/sleep/300", "/cpu/2000"};
  std::vector<std::thread> clients;
  for (const char* path : paths) {
    clients.emplace_back([&, path] {
      Fd fd = connect_loopback(server.port());
      std::string request = std::string("GET ") + path + " HTTP/1.1\r\nHost: hostile\r\n\r\n";
      std::string pending;
      while (!stop && fd && send_all(fd.get(), request, 5000)) {
        auto r = read_response(fd.get(), pending, 5000);
        if (!r) break;  // the server went away: expected once SIGTERM lands
        ++ok;
      }
    });
  }
  // The busy clients first: server-blocking serves whichever connection it
  // accepts first until that one closes, and an idle one would be it.
  for (int i = 0; i < 100 && ok.load() == 0; ++i) std::this_thread::sleep_for(milliseconds(50));
  Fd idle = connect_loopback(server.port());
  Fd half = connect_loopback(server.port());
  ASSERT_TRUE(idle && half);
  send_all(half.get(), "GET /hello HTTP/1.1\r\nHost: hos");

  std::this_thread::sleep_for(milliseconds(1500));
  const auto t0 = Clock::now();
  auto status = server.stop(SIGTERM, milliseconds(10'000));
  const long exit_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
  stop = true;
  for (auto& t : clients) t.join();

  ASSERT_TRUE(status.has_value()) << "still running 10 s after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status)) << "killed by signal " << (WIFSIGNALED(*status) ? WTERMSIG(*status) : 0);
  if (WIFEXITED(*status)) {
    EXPECT_EQ(WEXITSTATUS(*status), 0);
  }
  EXPECT_GT(ok.load(), 0) << "no request was served before the signal";
  report_figure("SIGTERM under load", std::to_string(ok.load()) + " requests served, then SIGTERM: exit " +
                                          (WIFEXITED(*status) ? std::to_string(WEXITSTATUS(*status))
                                                              : std::string("by signal")) +
                                          " after " + std::to_string(exit_ms) + " ms");
}

TEST(Hostile, LoadgenReportsServerDeathAndStillWritesJson) {
  if (config().loadgen.empty()) GTEST_SKIP() << "no --loadgen given";
  ServerProcess server(launch());
  const std::string json = ::testing::TempDir() + "hostile-loadgen-" + config().model + "-" +
                           std::to_string(::getpid()) + ".json";
  ::unlink(json.c_str());
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/hello";

  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl(config().loadgen.c_str(), config().loadgen.c_str(), "-c", "8", "-d", "5s", "--timeout",
            "1s", "--connect-timeout", "1s", "-q", "--json", json.c_str(), url.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::this_thread::sleep_for(milliseconds(1500));
  ASSERT_TRUE(server.stop(SIGKILL, milliseconds(5000)).has_value());

  int status = 0;
  const auto deadline = Clock::now() + milliseconds(30'000);
  pid_t done = 0;
  while ((done = ::waitpid(pid, &status, WNOHANG)) == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  if (done == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    FAIL() << "loadgen still running 30 s after a 5 s run";
  }
  ASSERT_TRUE(WIFEXITED(status)) << "loadgen died of signal " << WTERMSIG(status);
  EXPECT_NE(WEXITSTATUS(status), 0) << "loadgen exited 0 although its server died";

  std::ifstream in(json);
  ASSERT_TRUE(in) << "no JSON written to " << json;
  nlohmann::json result = nlohmann::json::parse(in, nullptr, false);
  ASSERT_FALSE(result.is_discarded()) << "the JSON does not parse";
  ASSERT_TRUE(result.contains("errors") && result["errors"].is_object());
  std::uint64_t errors = 0;
  std::string kinds;
  for (auto& [kind, count] : result["errors"].items()) {
    if (kind == "total" || !count.is_number()) continue;
    errors += count.get<std::uint64_t>();
    if (count.get<std::uint64_t>() > 0) kinds += " " + kind + "=" + std::to_string(count.get<std::uint64_t>());
  }
  EXPECT_GT(errors, 0u) << "no error counted after the server was killed";
  ASSERT_TRUE(result.contains("requests"));
  EXPECT_GT(result["requests"].get<std::uint64_t>(), 0u) << "the requests before the kill were lost";
  ::unlink(json.c_str());
  report_figure("loadgen, server killed", "exit " + std::to_string(WEXITSTATUS(status)) + ", " +
                                              std::to_string(result["requests"].get<std::uint64_t>()) +
                                              " requests before the kill, errors:" + kinds);
}

}  // namespace
}  // namespace iomodels::hostile
