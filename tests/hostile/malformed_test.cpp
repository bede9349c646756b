// A flood of malformed requests. Each one must get its SPEC §3 status,
// exactly one response and then a closed connection: a close without an
// answer, or anything sent after the answer, fails the case. None may crash
// the server, and the next well-formed client is served. Sent once each in
// turn, then all at once (five copies of each, concurrently) to the models
// that serve many clients.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "tests/hostile/hostile_config.hpp"
#include "tests/hostile/raw_client.hpp"

namespace iomodels::hostile {
namespace {

struct Malformed {
  const char* name;
  std::string bytes;
  std::set<int> statuses;  // acceptable answers
};

std::vector<Malformed> cases() {
  const std::string h = " HTTP/1.1\r\nHost: hostile\r\n";
  return {
      {"request line over 8 KiB", "GET /" + std::string(10'000, 'a') + h + "\r\n", {431}},
      {"header over 8 KiB", "GET /hello" + h + "X-Big: " + std::string(20'000, 'b') + "\r\n\r\n", {431}},
      {"2000 headers", [&] {
         std::string s = "GET /hello" + h;
         for (int i = 0; i < 2000; ++i) s += "X-" + std::to_string(i) + ": v\r\n";
         return s + "\r\n";
       }(), {431}},
      {"64 KiB of bare LFs", std::string(65'536, '\n'), {400}},
      // RFC 9112 §2.2 lets a server skip empty lines before a request line;
      // counted against --max-header-bytes, an endless stream ends in 431.
      {"64 KiB of empty lines", [] {
         std::string s;
         for (int i = 0; i < 32'768; ++i) s += "\r\n";
         return s;
       }(), {431}},
      {"NUL in the target", std::string("GET /hel\0lo", 11) + h + "\r\n", {400}},
      {"NUL in a header", "GET /hello" + h + std::string("X-Nul: a\0b\r\n\r\n", 14), {400}},
      {"NUL bytes only", std::string(1000, '\0'), {400}},
      {"binary garbage", [] {
         std::string s(4096, '\0');
         unsigned x = 12345;
         for (char& c : s) c = static_cast<char>((x = x * 1103515245 + 12345) >> 16);
         return s;
       }(), {400}},
      {"bytes: letters", "GET /bytes/abc" + h + "\r\n", {400}},
      {"bytes: negative", "GET /bytes/-1" + h + "\r\n", {400}},
      {"bytes: over max-body", "GET /bytes/8388609" + h + "\r\n", {400}},
      {"bytes: 30 digits", "GET /bytes/" + std::string(30, '9') + h + "\r\n", {400}},
      {"cpu: over the limit", "GET /cpu/1000001" + h + "\r\n", {400}},
      {"sleep: exponent", "GET /sleep/1e3" + h + "\r\n", {400}},
      {"sleep: plus sign", "GET /sleep/+5" + h + "\r\n", {400}},
      {"duplicate Content-Length", "POST /echo" + h + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", {400}},
      {"negative Content-Length", "POST /echo" + h + "Content-Length: -3\r\n\r\nabc", {400}},
      {"Content-Length overflow", "POST /echo" + h + "Content-Length: 99999999999999999999999\r\n\r\n", {400}},
      {"Content-Length not a number", "POST /echo" + h + "Content-Length: 12abc\r\n\r\n", {400}},
      {"Content-Length over max-body", "POST /echo" + h + "Content-Length: 100000000\r\n\r\n", {413}},
      {"Content-Length and Transfer-Encoding",
       "POST /echo" + h + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", {400}},
      {"Transfer-Encoding then Content-Length",
       "POST /echo" + h + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n", {400}},
      {"Transfer-Encoding: gzip, chunked", "POST /echo" + h + "Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", {501}},
      {"Transfer-Encoding: chunked, gzip", "POST /echo" + h + "Transfer-Encoding: chunked, gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n", {400}},
      {"Transfer-Encoding in HTTP/1.0", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", {400}},
      {"chunk size overflow", "POST /echo" + h + "Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\nx\r\n0\r\n\r\n", {400}},
      {"chunk size over max-body", "POST /echo" + h + "Transfer-Encoding: chunked\r\n\r\n800001\r\n", {413}},
      {"endless chunk extension", "POST /echo" + h + "Transfer-Encoding: chunked\r\n\r\n5;" + std::string(20'000, 'x'), {400}},
      {"bare CR in a header", "GET /hello" + h + "Foo:\rXContent-Length: 26\r\n\r\nGET /hello" + h + "\r\n", {400}},
      {"bare CR starting a line", "GET /hello" + h + "\rXGET /bytes/1" + h + "\r\n", {400}},
      {"obs-fold", "GET /hello" + h + "X-Folded: a\r\n b\r\n\r\n", {400}},
      {"HTTP/1.1 without Host", "GET /hello HTTP/1.1\r\n\r\n", {400}},
      {"two Hosts", "GET /hello" + h + "Host: again\r\n\r\n", {400}},
      {"Host list", "GET /hello HTTP/1.1\r\nHost: a, b\r\n\r\n", {400}},
      {"tab in the target", "GET /hel\tlo" + h + "\r\n", {400}},
      {"obs-text in the target", "GET /h\xffllo" + h + "\r\n", {400}},
      {"POST without length", "POST /echo" + h + "\r\n", {411}},
      {"HTTP/9.9", "GET /hello HTTP/9.9\r\n\r\n", {505}},
      {"HTTP/1.2", "GET /hello HTTP/1.2\r\n\r\n", {505}},
      {"HTTP/2.0", "GET /hello HTTP/2.0\r\n\r\n", {505}},
      {"HTTP/0.9 with headers", "GET /hello HTTP/0.9\r\n\r\n", {505}},
      {"HTTP/123456.7", "GET /hello HTTP/123456.7\r\n\r\n", {400}},
      {"HTTP/-1.1", "GET /hello HTTP/-1.1\r\n\r\n", {400}},
      {"not HTTP at all", "GET /hello HTCPCP/1.0\r\n\r\n", {400}},
      {"unknown method", "BREW /hello" + h + "\r\n", {405}},
      {"header without colon", "GET /hello" + h + "NoColonHere\r\n\r\n", {400}},
      // RFC 9112 §5.1: whitespace before the colon is a 400 (http-parser,
      // built non-strict, let it through).
      {"space before colon", "GET /hello" + h + "X-Space : x\r\n\r\n", {400}},
      {"Content-Length with a space before the colon", "POST /echo" + h + "Content-Length : 5\r\n\r\nhello", {400}},
      {"Transfer-Encoding with a space before the colon",
       "POST /echo" + h + "Transfer-Encoding : chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", {400}},
      {"request line without target", "GET  HTTP/1.1\r\n\r\n", {400}},
  };
}

// Judges what came back on a connection that was sent `m`, read until the
// server closed it: "" if it is exactly one response with an expected
// status, complete, and nothing after it.
std::string judge_seen(const std::string& seen, const Malformed& m) {
  if (seen.empty()) return "closed without an answer";
  if (seen.rfind("HTTP/1.1 ", 0) != 0 || seen.size() < 12) return "not an HTTP response: " + seen.substr(0, 40);
  const int status = std::atoi(seen.c_str() + 9);
  if (!m.statuses.count(status)) return "answered " + std::to_string(status);
  const std::size_t head_end = seen.find("\r\n\r\n");
  const std::size_t length_at = seen.find("\r\nContent-Length: ");
  if (head_end == std::string::npos || length_at == std::string::npos || length_at > head_end) {
    return "answer without a head or a Content-Length";
  }
  const std::size_t length = std::strtoul(seen.c_str() + length_at + 18, nullptr, 10);
  const std::size_t answer = head_end + 4 + length;
  if (seen.size() < answer) return "answer cut short";
  if (seen.size() > answer) return "more after the answer: " + seen.substr(answer, 40);
  return "";
}

// Sends one malformed request on fd and judges the outcome.
std::string judge(int fd, const Malformed& m) {
  std::string seen;
  // The server may answer and close before reading all of a large request:
  // a failed send is then expected, the answer is what counts.
  send_all(fd, m.bytes, 5000);
  if (!wait_for_close(fd, 10'000, &seen)) return "connection not closed within 10 s";
  return judge_seen(seen, m);
}

TEST(Hostile, MalformedFloodGetsStatusesAndCloses) {
  ServerProcess server(launch());
  const auto all = cases();
  int answered = 0;

  for (const Malformed& m : all) {
    Fd fd = connect_loopback(server.port());
    ASSERT_TRUE(fd);
    std::string verdict = judge(fd.get(), m);
    EXPECT_EQ(verdict, "") << m.name;
    ASSERT_TRUE(server.alive()) << "the server died on: " << m.name;
  }

  if (!serves_one_at_a_time()) {
    // All at once: 5 copies of every case on concurrent connections.
    std::vector<std::pair<Fd, const Malformed*>> conns;
    for (int copy = 0; copy < 5; ++copy) {
      for (const Malformed& m : all) {
        Fd fd = connect_loopback(server.port());
        ASSERT_TRUE(fd);
        send_all(fd.get(), m.bytes, 5000);
        conns.emplace_back(std::move(fd), &m);
      }
    }
    for (auto& [fd, m] : conns) {
      std::string seen;
      ASSERT_TRUE(wait_for_close(fd.get(), 10'000, &seen)) << m->name;
      EXPECT_EQ(judge_seen(seen, *m), "") << m->name;
      ++answered;
    }
  }

  EXPECT_TRUE(server.alive());
  auto r = get_once(server.port(), "/hello");
  EXPECT_TRUE(r && r->status == 200) << "the next good client was not served";
  report_figure("malformed flood",
                std::to_string(all.size()) + " kinds of malformed request, each sent alone" +
                    (serves_one_at_a_time()
                         ? std::string()
                         : ", then " + std::to_string(all.size() * 5) + " at once (" +
                               std::to_string(answered) + " judged)") +
                    "; server alive, next client served");
}

}  // namespace
}  // namespace iomodels::hostile
