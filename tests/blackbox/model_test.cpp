// Checks that prove each model is what it says (issue 3), keyed by model
// name; the others skip them. Bounds are generous on purpose: these boxes are
// shared and noisy, and the checks are about the shape of the model (who
// waits for whom), not about speed.
#include <sys/select.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "net/socket.hpp"
#include "tests/blackbox/suite.hpp"

namespace iomodels::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Opens n connections and sends each the request, all before reading any.
std::vector<HttpConnection> send_on_new_connections(ServerProcess& server, int n,
                                                    const std::string& request) {
  std::vector<HttpConnection> connections;
  for (int i = 0; i < n; ++i) {
    connections.push_back(server.connect());
    EXPECT_TRUE(connections.back().send(request));
  }
  return connections;
}

// Reads one response from each connection and returns when each completed,
// in ms since start. The order of reading does not matter: the server works
// on all of them meanwhile, so a response's time is when it was complete.
// A failed read counts as a very late response.
std::vector<long long> finish_times(std::vector<HttpConnection>& connections,
                                    Clock::time_point start) {
  std::vector<long long> times;
  for (HttpConnection& c : connections) {
    ReadResult r = c.read_response(10s);
    EXPECT_EQ(r.status, ReadStatus::Ok);
    EXPECT_EQ(r.response.status, 200);
    times.push_back(r.status == ReadStatus::Ok ? ms_since(start) : 1'000'000);
  }
  return times;
}

class Blocking : public BlackBox {
 protected:
  void SetUp() override {
    start();
  }
};

TEST_F(Blocking, TwoSleepsTakeTurns) {
  auto start = Clock::now();
  auto connections =
      send_on_new_connections(server(), 2, get_request("/sleep/200", "Connection: close\r\n"));
  std::vector<long long> times = finish_times(connections, start);
  EXPECT_GE(*std::max_element(times.begin(), times.end()), 400) << "the two sleeps overlapped";
}

TEST_F(Blocking, SecondClientWaitsUntilTheFirstLeaves) {
  HttpConnection first = server().connect();
  ASSERT_TRUE(first.send(get_request("/hello")));
  READ_OK(r1, first);
  EXPECT_EQ(r1.status, 200);
  // first stays connected (keep-alive), so the only thread is still its.
  HttpConnection second = server().connect();
  ASSERT_TRUE(second.send(get_request("/hello")));
  EXPECT_TRUE(second.stays_silent(300ms)) << "served while another client held the thread";
  first.close_write();
  READ_OK(r2, second);
  EXPECT_EQ(r2.status, 200);
  EXPECT_EQ(server().thread_count(), 1);
}

class Threaded : public BlackBox {
 protected:
  void SetUp() override {
  }
};

TEST_F(Threaded, PoolOfFourServesFourAtOnceAndTheFifthWaits) {
  start({"--pool", "4"});
  // The acceptor, the closer of refused connections and the four workers:
  // a pool does not grow with the load.
  EXPECT_EQ(server().thread_count(), 6);
  auto start = Clock::now();
  auto connections =
      send_on_new_connections(server(), 5, get_request("/sleep/500", "Connection: close\r\n"));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(server().thread_count(), 6);
  std::vector<long long> times = finish_times(connections, start);
  std::sort(times.begin(), times.end());
  EXPECT_LT(times[3], 1000) << "four sleeps did not run at the same time";
  EXPECT_GE(times[4], 1000) << "the fifth did not wait for a worker";
}

// The counterpoint to the event loop: the kernel preempts a worker that
// burns CPU, so a /hello on another connection does not wait for it.
TEST_F(Threaded, CpuWorkOnOneWorkerDoesNotHoldUpAnother) {
  start({"--pool", "4"});
  HttpConnection busy = server().connect();
  HttpConnection other = server().connect();
  auto start = Clock::now();
  ASSERT_TRUE(busy.send(get_request("/cpu/500000")));
  std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(other.send(get_request("/hello")));
  READ_OK(hello, other);
  const long long hello_done = ms_since(start);
  EXPECT_EQ(hello.status, 200);
  READ_OK(cpu, busy);
  EXPECT_EQ(cpu.status, 200);
  EXPECT_LT(hello_done, ms_since(start)) << "/hello waited for the CPU burn";
}

TEST_F(Threaded, FullQueueAnswers503) {
  start({"--pool", "2", "--queue", "1"});
  // Two clients hold the two workers (keep-alive, idle) ...
  std::vector<HttpConnection> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(server().connect());
    ASSERT_TRUE(held.back().send(get_request("/hello")));
    READ_OK(r, held.back());
    EXPECT_EQ(r.status, 200);
  }
  // ... a third waits in the queue ...
  HttpConnection queued = server().connect();
  ASSERT_TRUE(queued.send(get_request("/hello")));
  EXPECT_TRUE(queued.stays_silent(300ms));
  // ... and a fourth is refused at once.
  HttpConnection refused = server().connect();
  ASSERT_TRUE(refused.send(get_request("/hello")));
  READ_OK(busy, refused);
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(busy.header("Connection"), "close");
  EXPECT_TRUE(refused.wait_closed(3s));
  // When a worker's client leaves, the queued client is served.
  held[0].close_write();
  READ_OK(served, queued);
  EXPECT_EQ(served.status, 200);
  EXPECT_NE(server().stderr_text().find("503"), std::string::npos) << "the refusal was not logged";
}

TEST_F(Threaded, PoolZeroStartsAThreadPerConnection) {
  start({"--pool", "0"});
  const int idle_threads = server().thread_count();
  auto start = Clock::now();
  auto connections = send_on_new_connections(server(), 8, get_request("/sleep/500"));
  std::this_thread::sleep_for(200ms);
  EXPECT_GE(server().thread_count(), idle_threads + 8);
  std::vector<long long> times = finish_times(connections, start);
  EXPECT_LT(*std::max_element(times.begin(), times.end()), 1500) << "the sleeps did not overlap";
  connections.clear();  // the clients leave: their threads end
  auto deadline = Clock::now() + 3s;
  while (server().thread_count() > idle_threads && Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(server().thread_count(), idle_threads);
}

TEST_F(Threaded, SmallStacksStillServe) {
  for (const char* pool : {"4", "0"}) {
    SCOPED_TRACE(std::string("--pool ") + pool);
    start({"--pool", pool, "--stack-kib", "64"});
    HttpConnection c = server().connect();
    std::string batch;
    for (int i = 0; i < 16; ++i) batch += get_request("/bytes/65536");
    batch += post_request("/echo", std::string(100000, 'z'));
    ASSERT_TRUE(c.send(batch));
    for (int i = 0; i < 17; ++i) {
      READ_OK(r, c);
      EXPECT_EQ(r.status, 200);
    }
    EXPECT_NE(server().stderr_text().find("64 KiB"), std::string::npos);
  }
}

TEST_F(Threaded, BadModelOptionsExitTwo) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"--pool", "-1"}, {"--queue", "-5"}, {"--stack-kib", "1"}, {"--pool", "many"}}) {
    SCOPED_TRACE(args[0] + " " + args[1]);
    args.insert(args.begin(), {"--port", "0"});
    ExitResult r = run_to_exit(suite().binary, args, 3s);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_FALSE(r.err.empty());
  }
}

TEST_F(Threaded, SigtermWithManyIdleClientsOnPoolZero) {
  start({"--pool", "0"});
  std::vector<HttpConnection> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(server().connect());
    ASSERT_TRUE(clients.back().send(get_request("/hello")));
    READ_OK(r, clients.back());
    EXPECT_EQ(r.status, 200);
  }
  auto start = Clock::now();
  std::optional<int> status = server().stop(SIGTERM, 5s);
  ASSERT_TRUE(status.has_value());
  EXPECT_LE(ms_since(start), 2000);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
}

// Completion-based I/O is event-driven too: /sleep arms a timer and the
// loop keeps serving others.
class Uring : public BlackBox {
 protected:
  void SetUp() override {
    start();
  }
};

TEST_F(Uring, Overlaps200Sleeps) {
  auto start = Clock::now();
  auto connections = send_on_new_connections(server(), 200, get_request("/sleep/200"));
  std::vector<long long> times = finish_times(connections, start);
  EXPECT_LT(*std::max_element(times.begin(), times.end()), 1000);
}

class EventLoop : public BlackBox {
 protected:
  void SetUp() override {
  }
};

TEST_F(EventLoop, OneReactorOverlaps200SleepsOnOneThread) {
  start({"--reactors", "1"});
  auto start = Clock::now();
  auto connections = send_on_new_connections(server(), 200, get_request("/sleep/200"));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(server().thread_count(), 1);
  std::vector<long long> times = finish_times(connections, start);
  EXPECT_LT(*std::max_element(times.begin(), times.end()), 1000);
}

TEST_F(EventLoop, CpuWorkOnTheLoopDelaysEveryone) {
  start({"--reactors", "1"});
  HttpConnection busy = server().connect();
  HttpConnection other = server().connect();
  ASSERT_TRUE(busy.send(get_request("/cpu/200000")));
  std::this_thread::sleep_for(50ms);  // the loop is burning by now
  auto sent = Clock::now();
  ASSERT_TRUE(other.send(get_request("/hello")));
  READ_OK(hello, other);
  EXPECT_EQ(hello.status, 200);
  EXPECT_GE(ms_since(sent), 100) << "/hello was not held up by the burning loop";
  READ_OK(cpu, busy);
  EXPECT_EQ(cpu.status, 200);
}

TEST_F(EventLoop, ThreadsMatchReactors) {
  start({"--reactors", "2"});
  // Serve something on a few connections so every loop has started.
  for (int i = 0; i < 4; ++i) {
    HttpConnection c = server().connect();
    ASSERT_TRUE(c.send(get_request("/hello")));
    READ_OK(r, c);
    EXPECT_EQ(r.status, 200);
  }
  EXPECT_EQ(server().thread_count(), 2);
}

// A client that leaves while its /cpu job burns on an offload worker: the
// job's answer must go nowhere. The kernel hands the freed descriptor to the
// next connection the server accepts, so new clients connect during the
// burn and must each get their own answer and nothing else: a job answered
// by descriptor number would show up on one of them.
TEST_F(EventLoop, OffloadJobOfALeftClientReachesNoNextOwner) {
  start({"--reactors", "1", "--offload", "2"});
  for (int round = 0; round < 5; ++round) {
    {
      HttpConnection leaving = server().connect();
      ASSERT_TRUE(leaving.send(get_request("/cpu/150000")));
      std::this_thread::sleep_for(20ms);  // the job is on a worker by now
      leaving.reset();
    }
    std::this_thread::sleep_for(20ms);  // the loop has closed the descriptor
    std::vector<HttpConnection> next;
    for (int i = 0; i < 3; ++i) next.push_back(server().connect());
    for (HttpConnection& c : next) ASSERT_TRUE(c.send(get_request("/hello")));
    for (HttpConnection& c : next) {
      READ_OK(r, c);
      EXPECT_EQ(r.body, "Hello, World!") << "round " << round;
    }
    // Past the end of the job: nothing more may arrive on any of them.
    for (HttpConnection& c : next) EXPECT_TRUE(c.stays_silent(250ms)) << "round " << round;
  }
}

// select() watches descriptors below FD_SETSIZE only. A connection the
// server cannot watch is refused at once, with a 503 and a log line, never
// watched wrongly (FD_SET beyond the set is undefined behaviour) and never
// left hanging; the connections it holds are still served.
class Select : public BlackBox {};

TEST_F(Select, ConnectionsBeyondFdSetsizeGet503AndTheOthersAreServed) {
  const int wanted = FD_SETSIZE + 32;
  ASSERT_GE(raise_fd_limit().soft, static_cast<std::uint64_t>(wanted + 64))
      << "this test holds more than FD_SETSIZE connections: raise ulimit -n";
  start();
  std::vector<HttpConnection> held;
  for (int i = 0; i < wanted; ++i) held.push_back(server().connect());
  for (HttpConnection& c : held) ASSERT_TRUE(c.send(get_request("/hello")));
  int served = 0;
  int refused = 0;
  for (HttpConnection& c : held) {
    READ_OK(r, c);
    if (r.status == 200) {
      ++served;
    } else {
      EXPECT_EQ(r.status, 503);
      EXPECT_EQ(r.header("Connection"), "close");
      EXPECT_TRUE(c.wait_closed(3s));
      ++refused;
    }
  }
  EXPECT_GT(refused, 0) << "every connection was served: none was beyond FD_SETSIZE?";
  EXPECT_LE(served, FD_SETSIZE);
  EXPECT_GT(served, FD_SETSIZE - 64) << "connections below FD_SETSIZE were refused";
  EXPECT_NE(server().stderr_text().find("FD_SETSIZE"), std::string::npos)
      << "the refusal was not logged with its reason";
  // The watched connections are still served; once they leave, new ones are.
  ASSERT_TRUE(held.front().send(get_request("/hello")));
  READ_OK(again, held.front());
  EXPECT_EQ(again.status, 200);
  held.clear();
  HttpConnection fresh = server().connect();
  ASSERT_TRUE(fresh.send(get_request("/hello")));
  READ_OK(after, fresh);
  EXPECT_EQ(after.status, 200);
}

}  // namespace
}  // namespace iomodels::testing
