// The blocking models' first-byte and send timeouts (SPEC §3): a client that
// stays silent, or does not read, holds a thread; the timeouts give it back.
// Run against the models whose registry entry lists the BlockingTimeouts
// fixture (server-blocking, server-threaded): the event loops have neither
// option, since such a client costs them a few hundred bytes, not a thread.
#include <sys/wait.h>

#include <csignal>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/blackbox/suite.hpp"

namespace iomodels::testing {
namespace {

using Clock = std::chrono::steady_clock;

class BlockingTimeouts : public BlackBox {
 protected:
  // The threads a model has for clients: server-threaded's pool (small, so
  // that a few clients fill it), server-blocking's one.
  std::vector<std::string> with_pool(std::vector<std::string> args) const {
    if (suite().model == "threaded") args.insert(args.end(), {"--pool", std::to_string(kPool)});
    return args;
  }
  int threads() const { return suite().model == "threaded" ? kPool : 1; }

  // Stops the server (exit 0, as every test requires) and returns its exit
  // log: the session counters.
  std::string exit_log() {
    const std::optional<int> status = server().stop(SIGTERM, 5s);
    EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
    return server().stderr_text();
  }

  // ", 5 send timeouts": one counter of the exit log (session_counters.hpp).
  static std::string counted(int n, const char* what) {
    std::string text = ", ";
    text += std::to_string(n);
    text += ' ';
    text += what;
    return text;
  }

  static constexpr int kPool = 3;
};

// More silent clients than threads: each is closed after the timeout,
// without a byte of answer and with a FIN, and a client that came after
// them is served once their threads are free.
TEST_F(BlockingTimeouts, SilentClientsBeyondThePoolAreClosedAndLaterClientsServed) {
  start(with_pool({"--first-byte-timeout-ms", "300"}));
  std::vector<HttpConnection> silent;
  for (int i = 0; i < threads() + 2; ++i) silent.push_back(server().connect());
  HttpConnection later = server().connect();
  const auto start = Clock::now();
  ASSERT_TRUE(later.send(get_request("/hello")));
  ReadResult r = later.read_response(15s);
  ASSERT_EQ(r.status, ReadStatus::Ok) << "the silent clients still hold every thread";
  EXPECT_EQ(r.response.status, 200);
  EXPECT_GE(ms_since(start), 250) << "served before a silent client's timeout";
  // Nothing was asked, so nothing is answered.
  for (HttpConnection& c : silent) expect_nothing_more_then_fin(c, 10s);
  silent.clear();
  EXPECT_NE(exit_log().find(counted(threads() + 2, "first-byte timeouts")), std::string::npos)
      << server().stderr_text();
}

// A client that asks for more than the socket buffers hold and reads
// nothing: its thread's write is cut after the send timeout, and a client
// waiting behind it is served.
TEST_F(BlockingTimeouts, ClientThatDoesNotReadIsClosedAfterTheSendTimeout) {
  start(with_pool({"--send-timeout-ms", "300", "--max-body", "67108864"}));
  std::vector<HttpConnection> stuck;
  for (int i = 0; i < threads(); ++i) {
    stuck.push_back(server().connect());
    ASSERT_TRUE(stuck.back().send(get_request("/bytes/67108864")));
  }
  HttpConnection later = server().connect();
  ASSERT_TRUE(later.send(get_request("/hello")));
  ReadResult r = later.read_response(15s);
  ASSERT_EQ(r.status, ReadStatus::Ok) << "the clients that do not read still hold every thread";
  EXPECT_EQ(r.response.status, 200);
  for (HttpConnection& c : stuck) {
    // What the buffers held, then the end: far short of the 64 MiB asked.
    HttpConnection::Rest rest = c.read_until_close(10s);
    EXPECT_NE(rest.how, ReadStatus::Timeout);
    EXPECT_LT(rest.bytes.size(), 64u << 20);
  }
  stuck.clear();
  EXPECT_NE(exit_log().find(counted(threads(), "send timeouts")), std::string::npos)
      << server().stderr_text();
}

// A client that reads slowly but steadily is never cut: each write that
// moves some bytes restarts the clock.
TEST_F(BlockingTimeouts, SlowReaderIsNotCut) {
  start(with_pool({"--send-timeout-ms", "1000"}));
  HttpConnection c = server().connect();
  ASSERT_TRUE(c.send(get_request("/bytes/8388608")));
  std::string got;
  const auto deadline = Clock::now() + 20s;
  // 256 KiB every 100 ms: the server waits on a full buffer between reads,
  // never for the whole timeout (1 s: room for a busy machine). (Loopback buffers hold a few MiB,
  // so the first reads find plenty.)
  while (got.size() < (8u << 20) + 100 && Clock::now() < deadline) {
    const std::string piece = c.read_raw(256 * 1024, 2s);
    if (piece.empty()) break;
    got += piece;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_GT(got.size(), 8u << 20) << "cut after " << got.size() << " bytes";
  EXPECT_NE(exit_log().find(counted(0, "send timeouts")), std::string::npos)
      << server().stderr_text();
}

TEST_F(BlockingTimeouts, HelpAndBadValues) {
  ExitResult help = run_to_exit(suite().binary, {"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* option : {"--first-byte-timeout-ms", "--send-timeout-ms"}) {
    EXPECT_NE(help.out.find(std::string(option) + " arg (=10000)"), std::string::npos) << help.out;
    for (const char* bad : {"0", "-5", "soon", "86400001"}) {
      SCOPED_TRACE(std::string(option) + " " + bad);
      ExitResult r = run_to_exit(suite().binary, {"--port", "0", option, bad}, 3s);
      EXPECT_EQ(r.exit_code, 2);
      EXPECT_NE(r.err.find(option + 2), std::string::npos) << r.err;
      EXPECT_EQ(r.out.find("listening on"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace iomodels::testing
