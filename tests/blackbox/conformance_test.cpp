// RFC 9110/9112 on the wire, against every model: HEAD, chunked uploads to
// /echo, and real clients (curl -T and -I, Python's http.client, ab,
// h2load --h1). The error statuses of the same rules are in errors_test.cpp;
// the rules byte by byte in tests/unit/request_conformance_test.cpp.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

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
};

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
  std::string bytes = c.read_raw(64 * 1024, 1s);  // until the server closes
  EXPECT_EQ(bytes.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u) << bytes;
  EXPECT_EQ(bytes, head_of(bytes)) << "a body after the head of a HEAD answer";
  EXPECT_NE(bytes.find("\r\nContent-Length: 10\r\n"), std::string::npos) << bytes;
  EXPECT_TRUE(c.wait_closed(3s));
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

// --- real clients ----------------------------------------------------------

// curl -T - reads stdin and, not knowing its length, uploads it chunked.
// (-H Expect: leaves out "Expect: 100-continue", which the session answers
// only once issue 16's session work lands; curl would wait a second.)
TEST_F(Conformance, CurlChunkedUpload) {
  REQUIRE_CLIENT("curl");
  const std::string file = ::testing::TempDir() + "curl-upload-" + suite().model;
  {
    std::ofstream out(file, std::ios::binary);
    for (int i = 0; i < 20'000; ++i) out << "line " << i << "\n";
  }
  Ran r = run("curl -sS --fail -X POST -H 'Expect:' -T - -D - -o " + file + ".echo " + url("/echo") +
              " < " + file);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("HTTP/1.1 200 OK"), std::string::npos) << r.output;
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
  const std::string script =
      "import http.client, sys\n"
      "c = http.client.HTTPConnection('127.0.0.1', " + std::to_string(server().port()) + ", timeout=10)\n"
      "for _ in range(2):\n"
      "    c.request('POST', '/echo', body=iter([b'abc', b'', b'def' * 1000]), encode_chunked=True)\n"
      "    r = c.getresponse()\n"
      "    body = r.read()\n"
      "    assert r.status == 200, r.status\n"
      "    assert body == b'abc' + b'def' * 1000, body[:40]\n"
      "    assert c.sock is not None  # kept alive\n"
      "print('ok')\n";
  const std::string file = ::testing::TempDir() + "chunked-" + suite().model + ".py";
  std::ofstream(file) << script;
  Ran r = run("/usr/bin/python3 " + file);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "ok\n");
  std::remove(file.c_str());
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
