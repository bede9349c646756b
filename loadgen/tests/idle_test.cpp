// loadgen --idle N: holds idle keep-alive connections for the bench's idle
// scenario, saying on one stdout line how many it holds and how many were
// answered.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "loadgen/tests/run_helpers.hpp"
#include "loadgen/tests/test_server.hpp"

using namespace iomodels::loadgen::testing;

namespace {

// loadgen --idle in the background: its first stdout line, then a signal.
class IdleProcess {
 public:
  explicit IdleProcess(std::vector<std::string> args) {
    int fds[2];
    if (pipe(fds) != 0) return;
    args.insert(args.begin(), LOADGEN_PATH);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 1);
      const int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 2);
      close(fds[0]);
      execv(LOADGEN_PATH, argv.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fdopen(fds[0], "r");
  }
  ~IdleProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_) fclose(out_);
  }
  std::string line() {
    char buf[512] = {};
    if (!out_ || !fgets(buf, sizeof buf, out_)) return "";
    std::string s = buf;
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }
  int stop(int sig) {
    if (sig) kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  bool reaped_ = false;
};

TEST(LoadgenIdle, HoldsAnsweredConnectionsUntilSigterm) {
  TestServer server;
  TempDir dir;
  IdleProcess p({"--idle", "300", "--source-addrs", "127.0.0.1-127.0.0.3", "--json",
                 dir.file("idle.json"), url(server.port())});
  EXPECT_EQ(p.line(), "holding 300 answered 300");
  EXPECT_EQ(server.requests_seen(), 300u);  // one request each, then silence
  EXPECT_EQ(p.stop(SIGTERM), 0);
  const json j = json::parse(slurp(dir.file("idle.json")));
  EXPECT_EQ(j["mode"], "idle");
  EXPECT_EQ(u(j["idle"], "held"), 300u);
  EXPECT_EQ(u(j["idle"], "answered"), 300u);
  EXPECT_TRUE(j["idle"]["failure"].is_null());
  EXPECT_EQ(server.requests_seen(), 300u);
}

TEST(LoadgenIdle, DurationEndsTheHold) {
  TestServer server;
  IdleProcess p({"--idle", "5", "-d", "300ms", url(server.port())});
  EXPECT_EQ(p.line(), "holding 5 answered 5");
  EXPECT_EQ(p.stop(0), 0);
}

TEST(LoadgenIdle, UnansweredConnectionsAreHeldAndSaid) {
  TestServer server(Behaviour::Silent);
  IdleProcess p({"--idle", "4", "--idle-answer-wait", "200ms", "-d", "100ms", url(server.port())});
  EXPECT_EQ(p.line(), "holding 4 answered 0 of 4: 4 never answered");
  EXPECT_EQ(p.stop(0), 3);
}

TEST(LoadgenIdle, RefusedConnectionsAreSaid) {
  std::uint16_t port;
  {
    TestServer gone;
    port = gone.port();
  }
  IdleProcess p({"--idle", "5", "-d", "100ms", url(port)});
  EXPECT_EQ(p.line(), "holding 0 answered 0 of 5: connect: ECONNREFUSED");
  EXPECT_EQ(p.stop(0), 3);
}

TEST(LoadgenIdle, BadCombinationsExit2) {
  EXPECT_EQ(run(LOADGEN_PATH, {"--idle", "0", "http://127.0.0.1:1/"}).status, 2);
  EXPECT_EQ(run(LOADGEN_PATH, {"--idle", "3", "-R", "10", "http://127.0.0.1:1/"}).status, 2);
}

}  // namespace
