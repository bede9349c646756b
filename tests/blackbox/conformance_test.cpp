// RFC 9110/9112 on the wire, against every model: HEAD, chunked uploads to
// /echo, Expect: 100-continue, the graceful close after Connection: close,
// and real clients (curl -T and -I, Python's http.client, ab, h2load --h1).
// The error statuses of the same rules are in errors_test.cpp; the rules
// byte by byte in tests/unit/request_conformance_test.cpp and the session's
// in tests/unit/session_test.cpp.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <utility>

#include "tests/blackbox/suite.hpp"

namespace iomodels::testing {
namespace {

struct Ran {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs a shell command, with its stdin from `input` (a file) if given.
Ran run(const std::string& command) {
  Ran r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> chunk;
  std::size_t n;
  while ((n = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0) r.output.append(chunk.data(), n);
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool installed(const std::string& program) {
  return run("command -v " + program + " >/dev/null").exit_code == 0;
}

#define REQUIRE_CLIENT(program)                                                              \
  if (!installed(program))                                                                   \
  GTEST_SKIP() << program << " is not installed (scripts/install-deps.sh installs it); "     \
                             "this check did not run"

class Conformance : public BlackBox {
 protected:
  void SetUp() override { start(); }
  std::string url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(server().port()) + path;
  }
  // One client at a time for the model that serves one at a time.
  int concurrency() const { return suite().model == "blocking" ? 1 : 4; }

  // Runs `steps`, Python code given `c`, an http.client connection to the
  // server, with the system interpreter (Debian's libraries are seen only by
  // it): every assert in it must hold.
  void expect_http_client_ok(const std::string& name, const std::string& steps);
};

void Conformance::expect_http_client_ok(const std::string& name, const std::string& steps) {
  const std::string file = ::testing::TempDir() + name + "-" + suite().model + ".py";
  std::ofstream(file) << "import http.client, io, select, sys\n"
                         "c = http.client.HTTPConnection('127.0.0.1', "
                      << server().port() << ", timeout=10)\n"
                      << steps << "print('ok')\n";
  Ran r = run("/usr/bin/python3 " + file);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "ok\n");
  std::remove(file.c_str());
}

// The head of one response in `bytes`, and where its head ends.
std::string head_of(const std::string& bytes) {
  return bytes.substr(0, bytes.find("\r\n\r\n") + 4);
}

// RFC 9110 §9.3.2: HEAD answers with GET's head, Content-Length included,
// and no body. A pipelined GET behind it shows where the HEAD answer ended.
TEST_F(Conformance, HeadHasTheHeadOfGetAndNoBody) {
  HttpConnection c = server().connect();
  ASSERT_TRUE(c.send("HEAD /bytes/1000 HTTP/1.1\r\nHost: test\r\n\r\n" + get_request("/hello")));
  std::string bytes;
  const std::string hello_end = "\r\n\r\nHello, World!";
  for (int i = 0; i < 50 && bytes.find(hello_end) == std::string::npos; ++i) {
    bytes += c.read_raw(64 * 1024, 100ms);
  }
  const std::string head = head_of(bytes);
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << bytes;
  EXPECT_NE(head.find("\r\nContent-Length: 1000\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nContent-Type: application/octet-stream\r\n"), std::string::npos);
  // Right after the HEAD's head comes the GET's answer: no body between.
  const std::string rest = bytes.substr(head.size());
  EXPECT_EQ(rest.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << rest.substr(0, 80);
  EXPECT_EQ(rest.substr(rest.size() - hello_end.size()), hello_end);
  EXPECT_TRUE(c.stays_silent(200ms));
}

TEST_F(Conformance, HeadOfAnErrorHasNoBody) {
  HttpConnection c = server().connect();
  ASSERT_TRUE(c.send("HEAD /nope HTTP/1.1\r\nHost: test\r\n\r\n"));
  HttpConnection::Rest rest = c.read_until_close(3s);
  const std::string& bytes = rest.bytes;
  EXPECT_EQ(bytes.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u) << bytes;
  EXPECT_EQ(bytes, head_of(bytes)) << "a body after the head of a HEAD answer";
  EXPECT_NE(bytes.find("\r\nContent-Length: 10\r\n"), std::string::npos) << bytes;
  EXPECT_EQ(rest.how, ReadStatus::Closed);
}

// RFC 9112 §7.1: a chunked upload to /echo is answered with the whole body,
// Content-Length and not chunked (SPEC §3); the connection stays usable.
TEST_F(Conformance, ChunkedEchoAnswersTheWholeBody) {
  const std::string chunked =
      "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n1;ext=\"x y\"\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n";
  HttpConnection c = server().connect();
  ASSERT_TRUE(c.send(chunked));
  READ_OK(r, c);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello 0123456789");
  EXPECT_EQ(r.header("Content-Length"), "16");
  EXPECT_FALSE(r.header("Transfer-Encoding").has_value());
  // Byte by byte, then a request behind it on the same connection.
  ASSERT_TRUE(c.send_bytewise(chunked, 100us));
  READ_OK(again, c);
  EXPECT_EQ(again.body, "hello 0123456789");
  ASSERT_TRUE(c.send(get_request("/hello")));
  READ_OK(hello, c);
  EXPECT_EQ(hello.body, "Hello, World!");
}

TEST_F(Conformance, LargeChunkedEchoComesBackWhole) {
  std::string body;
  for (int i = 0; i < 300'000; ++i) body += static_cast<char>('a' + i % 26);
  std::string request = "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t at = 0; at < body.size(); at += 40'000) {
    const std::string piece = body.substr(at, 40'000);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    request += size + piece + "\r\n";
  }
  request += "0\r\n\r\n";
  HttpConnection c = server().connect();
  ASSERT_TRUE(c.send(request));
  READ_OK(r, c);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body == body) << "echoed " << r.body.size() << " bytes of " << body.size();
}

// --- Expect (RFC 9110 §10.1.1) ----------------------------------------------

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

std::string expect_head(std::string_view target, std::size_t length,
                        std::string_view expect = "100-continue") {
  return "POST " + std::string(target) + " HTTP/1.1\r\nHost: test\r\nExpect: " +
         std::string(expect) + "\r\nContent-Length: " + std::to_string(length) + "\r\n\r\n";
}

// The client sends the head and waits: the 100 comes before any body byte
// is sent, the final answer only after the body.
TEST_F(Conformance, ExpectContinueComesBeforeTheBodyThenTheFinalAnswer) {
  const std::string body(100'000, 'e');
  HttpConnection c = server().connect();
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("request " + std::to_string(round + 1) + " on the connection");
    ASSERT_TRUE(c.send(expect_head("/echo", body.size())));
    EXPECT_EQ(c.read_raw(kContinue.size(), 5s), kContinue);
    EXPECT_TRUE(c.stays_silent(100ms)) << "a final answer before the body was sent";
    ASSERT_TRUE(c.send(body));
    READ_OK(r, c);
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.body == body) << "echoed " << r.body.size() << " bytes";
  }
}

// When the head already decides the answer, it comes at once, without a
// 100 (read_response() would call a 100 first malformed), and the
// connection closes gracefully without the body being sent.
TEST_F(Conformance, ExpectGetsTheFinalStatusAtOnceWhenTheHeadDecidesIt) {
  const std::pair<std::string, int> cases[] = {
      {expect_head("/echo", 100'000'000), 413},
      {expect_head("/nope", 1000), 404},
      {expect_head("/hello", 1000), 405},
      {"POST /echo HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\n\r\n", 411},
  };
  for (const auto& [head, status] : cases) {
    SCOPED_TRACE(head);
    HttpConnection c = server().connect();
    ASSERT_TRUE(c.send(head));
    READ_OK(r, c);
    EXPECT_EQ(r.status, status);
    EXPECT_EQ(r.header("Connection"), "close");
    expect_nothing_more_then_fin(c);
  }
}

TEST_F(Conformance, UnknownExpectationGets417) {
  for (const std::string& request : {get_request("/hello", "Expect: foo\r\n"),
                                     expect_head("/echo", 5, "100-continue, x") + "hello"}) {
    SCOPED_TRACE(request);
    HttpConnection c = server().connect();
    ASSERT_TRUE(c.send(request));
    READ_OK(r, c);
    EXPECT_EQ(r.status, 417);
    EXPECT_EQ(r.reason, "Expectation Failed");
    expect_nothing_more_then_fin(c);
  }
}

// RFC 9110 §10.1.1: an HTTP/1.0 request's 100-continue is ignored; no 100.
TEST_F(Conformance, Http10ExpectIsIgnored) {
  HttpConnection c = server().connect();
  ASSERT_TRUE(c.send("POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  EXPECT_TRUE(c.stays_silent(200ms)) << "a 100 to an HTTP/1.0 client";
  ASSERT_TRUE(c.send("hello"));
  READ_OK(r, c);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
}

// --- graceful close (RFC 9112 §9.6) ----------------------------------------

// A normal answer to Connection: close, with more requests pipelined behind
// it that the server will never read: the client reads the whole answer,
// then a FIN. A plain close() with those bytes unread makes the kernel send
// a reset (seen here as Reset), which on a real network can destroy the
// answer before it is read.
TEST_F(Conformance, ConnectionCloseWithPipelinedBytesBehindClosesGracefully) {
  std::string batch = get_request("/bytes/300000", "Connection: close\r\n");
  while (batch.size() < 256 * 1024) batch += get_request("/hello");
  HttpConnection c = server().connect();
  ASSERT_TRUE(c.send(batch));
  READ_OK(r, c);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_EQ(r.body.size(), 300'000u);
  expect_nothing_more_then_fin(c);
}

// --- real clients ----------------------------------------------------------

// curl -T - reads stdin and, not knowing its length, uploads it chunked,
// with "Expect: 100-continue": it waits for the 100 before the body. A
// server that does not send it would stall curl for --expect100-timeout
// (1 s by default, 20 s here, so that the stall cannot hide).
TEST_F(Conformance, CurlChunkedUpload) {
  REQUIRE_CLIENT("curl");
  const std::string file = ::testing::TempDir() + "curl-upload-" + suite().model;
  {
    std::ofstream out(file, std::ios::binary);
    for (int i = 0; i < 20'000; ++i) out << "line " << i << "\n";
  }
  const auto started = std::chrono::steady_clock::now();
  Ran r = run("curl -sS --fail -X POST --expect100-timeout 20 -T - -D - -o " + file + ".echo " +
              url("/echo") + " < " + file);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LT(ms_since(started), 10'000) << "curl waited for a 100 Continue that never came";
  EXPECT_EQ(r.output.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", 0), 0u) << r.output;
  Ran same = run("cmp " + file + " " + file + ".echo");
  EXPECT_EQ(same.exit_code, 0) << same.output;
  std::remove(file.c_str());
  std::remove((file + ".echo").c_str());
}

// curl -I: HEAD twice on one connection; a body after the first head would
// be read as the second answer, and curl would fail on it.
TEST_F(Conformance, CurlHead) {
  REQUIRE_CLIENT("curl");
  Ran r = run("curl -sS --fail -I " + url("/bytes/100000") + " " + url("/hello"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Content-Length: 100000"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Content-Length: 13"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Hello"), std::string::npos) << r.output;
}

// Python's http.client sends an iterable body chunked.
TEST_F(Conformance, PythonHttpClientChunkedBody) {
  REQUIRE_CLIENT("/usr/bin/python3");
  expect_http_client_ok(
      "chunked",
      "for _ in range(2):\n"
      "    c.request('POST', '/echo', body=iter([b'abc', b'', b'def' * 1000]),\n"
      "              encode_chunked=True)\n"
      "    r = c.getresponse()\n"
      "    body = r.read()\n"
      "    assert r.status == 200, r.status\n"
      "    assert body == b'abc' + b'def' * 1000, body[:40]\n"
      "    assert c.sock is not None  # kept alive\n");
}

// http.client sends a body with Expect: 100-continue as a client that waits
// for the 100 does: the head, then (here) a wait for the server to speak,
// then the body. getresponse() skips the 100; its debug output shows it.
TEST_F(Conformance, PythonHttpClientExpectContinue) {
  REQUIRE_CLIENT("/usr/bin/python3");
  expect_http_client_ok(
      "expect",
      "body = b'x' * 50000\n"
      "for _ in range(2):\n"
      "    c.putrequest('POST', '/echo')\n"
      "    c.putheader('Content-Length', str(len(body)))\n"
      "    c.putheader('Expect', '100-continue')\n"
      "    c.endheaders()\n"
      "    ready, _, _ = select.select([c.sock], [], [], 5)\n"
      "    assert ready, 'no 100 Continue within 5 s'\n"
      "    c.send(body)\n"
      "    c.set_debuglevel(1)\n"
      "    out, sys.stdout = sys.stdout, io.StringIO()\n"
      "    r = c.getresponse()\n"
      "    seen, sys.stdout = sys.stdout.getvalue(), out\n"
      "    c.set_debuglevel(0)\n"
      "    assert \"reply: 'HTTP/1.1 100 Continue\" in seen, seen\n"
      "    assert r.status == 200, r.status\n"
      "    assert r.read() == body\n");
}

TEST_F(Conformance, ApacheBench) {
  REQUIRE_CLIENT("ab");
  Ran r = run("ab -q -k -n 400 -c " + std::to_string(concurrency()) + " -s 10 " + url("/hello"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Complete requests:      400"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Failed requests:        0"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Non-2xx responses"), std::string::npos) << r.output;
}

TEST_F(Conformance, H2loadHttp1Pipelined) {
  REQUIRE_CLIENT("h2load");
  Ran r = run("h2load --h1 -n 400 -c " + std::to_string(concurrency()) + " -m 4 -T 10 " +
              url("/hello"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("requests: 400 total, 400 started, 400 done, 400 succeeded, 0 failed"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("status codes: 400 2xx"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace iomodels::testing
