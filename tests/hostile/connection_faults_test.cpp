// Clients that vanish or half-vanish: a reset in the middle of a request, a
// reset in the middle of a large response (the server's writev() then fails
// with EPIPE/ECONNRESET: SIGPIPE must not kill it), and a client that
// half-closes (shutdown(SHUT_WR)) right after its request, as `nc -N` and
// some proxies do: the answer must still arrive, then the server closes.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <thread>

#include "protocol/body_pattern.hpp"
#include "tests/hostile/hostile_config.hpp"
#include "tests/hostile/raw_client.hpp"

namespace iomodels::hostile {
namespace {

using std::chrono::milliseconds;

// Waits until the server's open descriptors are back to at most `limit`
// (closing may finish a lingering second later); returns the last count.
int settle_fds(ServerProcess& server, int limit) {
  int fds = server.open_fds();
  for (int i = 0; i < 100 && fds > limit; ++i) {
    std::this_thread::sleep_for(milliseconds(100));
    fds = server.open_fds();
  }
  return fds;
}

TEST(Hostile, ResetsMidRequestAndMidResponse) {
  ServerProcess server(launch());
  ASSERT_TRUE(get_once(server.port(), "/hello"));
  const int fds_before = settle_fds(server, 1 << 20);

  constexpr int kRounds = 40;
  int mid_response_read = 0;
  for (int i = 0; i < kRounds; ++i) {
    {  // Mid-request: half a header section, then RST.
      Fd fd = connect_loopback(server.port());
      ASSERT_TRUE(fd);
      ASSERT_TRUE(send_all(fd.get(), "GET /hello HTTP/1.1\r\nHost: hostile\r\nX-Half: abc"));
      reset_connection(std::move(fd));
    }
    {  // Mid-response: 8 MB asked for, 64 KiB read, then RST.
      Fd fd = connect_loopback(server.port());
      ASSERT_TRUE(fd);
      ASSERT_TRUE(send_all(fd.get(), "GET /bytes/8000000 HTTP/1.1\r\nHost: hostile\r\n\r\n"));
      std::string pending;
      std::string seen;
      char buf[65536];
      for (int tries = 0; tries < 100 && seen.size() < 65536; ++tries) {
        ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n > 0) seen.append(buf, static_cast<std::size_t>(n));
        else std::this_thread::sleep_for(milliseconds(10));
      }
      if (seen.rfind("HTTP/1.1 200 ", 0) == 0) ++mid_response_read;
      reset_connection(std::move(fd));
    }
    {  // Mid-pipeline: ten large answers owed, none read.
      Fd fd = connect_loopback(server.port());
      ASSERT_TRUE(fd);
      std::string ten;
      for (int k = 0; k < 10; ++k) ten += "GET /bytes/1000000 HTTP/1.1\r\nHost: hostile\r\n\r\n";
      ASSERT_TRUE(send_all(fd.get(), ten));
      std::this_thread::sleep_for(milliseconds(5));
      reset_connection(std::move(fd));
    }
  }
  EXPECT_EQ(mid_response_read, kRounds) << "the large response did not start before the reset";
  EXPECT_TRUE(server.alive()) << "the server died on a reset";
  auto r = get_once(server.port(), "/bytes/100000");
  ASSERT_TRUE(r && r->status == 200) << "not served after the resets";
  EXPECT_TRUE(http::check_pattern(r->body, 0));
  const int fds_after = settle_fds(server, fds_before + 1);
  EXPECT_LE(fds_after, fds_before + 1) << "descriptors leaked by reset connections";
  report_figure("resets", std::to_string(3 * kRounds) +
                              " connections reset (mid-request, mid-response, mid-pipeline); server "
                              "alive, open fds " + std::to_string(fds_before) + " before, " +
                              std::to_string(fds_after) + " after");
}

TEST(Hostile, HalfClosedClientStillGetsItsAnswers) {
  ServerProcess server(launch());
  struct Case {
    std::string request;
    int answers;
    bool pattern = false;  // the (single) answer is a /bytes/ body
  };
  const Case cases[] = {
      {"GET /hello HTTP/1.1\r\nHost: hostile\r\n\r\n", 1},
      {"GET /bytes/300000 HTTP/1.1\r\nHost: hostile\r\n\r\n", 1, true},
      {"POST /echo HTTP/1.1\r\nHost: hostile\r\nContent-Length: 5\r\n\r\nhello", 1},
      {"GET /sleep/100 HTTP/1.1\r\nHost: hostile\r\n\r\n", 1},
      {"GET /hello HTTP/1.1\r\nHost: hostile\r\n\r\nGET /bytes/1000 HTTP/1.1\r\nHost: hostile\r\n\r\n"
       "GET /cpu/100 HTTP/1.1\r\nHost: hostile\r\n\r\n",
       3},
  };
  int answered = 0;
  for (const Case& c : cases) {
    Fd fd = connect_loopback(server.port());
    ASSERT_TRUE(fd);
    ASSERT_TRUE(send_all(fd.get(), c.request));
    ASSERT_EQ(::shutdown(fd.get(), SHUT_WR), 0);
    std::string pending;
    for (int i = 0; i < c.answers; ++i) {
      auto r = read_response(fd.get(), pending);
      ASSERT_TRUE(r) << "no answer " << i << " after SHUT_WR to: " << c.request;
      EXPECT_EQ(r->status, 200);
      if (c.pattern) {
        EXPECT_EQ(r->body.size(), 300000u);
        EXPECT_TRUE(http::check_pattern(r->body, 0));
      }
      if (c.request.find("/echo") != std::string::npos) {
        EXPECT_EQ(r->body, "hello");
      }
      ++answered;
    }
    // The client said it is done: the server closes its side too.
    EXPECT_TRUE(wait_for_close(fd.get(), 5000)) << "the server kept a half-closed connection open";
  }
  EXPECT_TRUE(server.alive());
  report_figure("half-close", std::to_string(answered) + "/7 answers arrived after shutdown(SHUT_WR), "
                                                         "every connection then closed by the server");
}

}  // namespace
}  // namespace iomodels::hostile
