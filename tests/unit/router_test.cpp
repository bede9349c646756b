// Routing (a pure function from request to plan) and serialisation.
#include "protocol/router.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "protocol/body_pattern.hpp"

namespace iomodels::http {
namespace {

// Parses one request and routes it.
Plan plan_for(const std::string& text, Limits limits = {}) {
  // The plan's views point into the parser: it lives until the next call.
  static std::unique_ptr<RequestParser> parser;
  parser = std::make_unique<RequestParser>(limits);
  ParseResult r = parser->parse(text);
  EXPECT_EQ(r.status, ParseStatus::Complete) << text;
  return route(parser->request(), limits);
}

std::string render(const Response& response) {
  OutputQueue out;
  serialize(response, "iomodels-test", out);
  std::string bytes;
  iovec iov[64];
  int n = out.gather(iov, 64);
  for (int i = 0; i < n; ++i) bytes.append(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
  return bytes;
}

TEST(Router, HelloRootAndPlaintext) {
  for (std::string path : {"/", "/hello", "/plaintext", "/hello?name=x"}) {
    Plan p = plan_for("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(p.action, Action::Respond);
    EXPECT_EQ(p.response.status, 200) << path;
    EXPECT_EQ(p.response.body, "Hello, World!");
    EXPECT_EQ(p.response.content_type, "text/plain");
    EXPECT_FALSE(p.response.close);
  }
}

TEST(Router, BytesPlansAPatternBody) {
  Plan p = plan_for("GET /bytes/65536 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(p.response.status, 200);
  EXPECT_TRUE(p.response.pattern);
  EXPECT_EQ(p.response.pattern_bytes, 65536u);
  EXPECT_EQ(p.response.content_type, "application/octet-stream");
  EXPECT_EQ(plan_for("GET /bytes/0 HTTP/1.1\r\nHost: x\r\n\r\n").response.pattern_bytes, 0u);
}

TEST(Router, BadNumbersAre400) {
  Limits limits;
  limits.max_body = 1000;
  for (std::string path :
       {"/bytes/-1", "/bytes/1x", "/bytes/+5", "/bytes/1001", "/bytes/99999999999999999999999",
        "/cpu/abc", "/cpu/1000001", "/sleep/60001", "/sleep/1.5"}) {
    Plan p = plan_for("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n", limits);
    EXPECT_EQ(p.response.status, 400) << path;
    EXPECT_TRUE(p.response.close) << path;
  }
}

TEST(Router, CpuAndSleepPlanTheirWork) {
  Plan cpu = plan_for("GET /cpu/250 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(cpu.action, Action::BurnCpuThenRespond);
  EXPECT_EQ(cpu.cpu_us, 250u);
  Plan sleep = plan_for("GET /sleep/10 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(sleep.action, Action::SleepThenRespond);
  EXPECT_EQ(sleep.sleep_ms, 10u);
  EXPECT_EQ(sleep.response.status, 200);
}

TEST(Router, EchoReturnsTheBody) {
  Plan p = plan_for("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nping");
  EXPECT_EQ(p.response.status, 200);
  EXPECT_EQ(p.response.body, "ping");
}

TEST(Router, EchoOfAChunkedBodyIsTheDechunkedBody) {
  // SPEC §3: answered with Content-Length, not chunked: the body is whole.
  Plan p = plan_for(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4\r\nping\r\n3;ext=1\r\n-me\r\n0\r\nX-Trailer: t\r\n\r\n");
  EXPECT_EQ(p.response.status, 200);
  EXPECT_EQ(p.response.body, "ping-me");
  std::string bytes = render(p.response);
  EXPECT_NE(bytes.find("\r\nContent-Length: 7\r\n"), std::string::npos) << bytes;
  EXPECT_EQ(bytes.find("Transfer-Encoding"), std::string::npos) << bytes;
}

TEST(Router, HeadIsGetWithoutTheBody) {
  // RFC 9110 §9.3.2: the same head as GET, Content-Length included.
  for (std::string path : {"/hello", "/bytes/1000", "/cpu/0", "/sleep/0"}) {
    Plan get = plan_for("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string get_bytes = render(get.response);
    Plan head = plan_for("HEAD " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(head.action, get.action) << path;
    EXPECT_EQ(head.response.status, 200) << path;
    std::string head_bytes = render(head.response);
    // The Date may tick between the two; compare the heads without it.
    auto without_date = [](std::string b) {
      auto at = b.find("\r\nDate: ");
      return b.erase(at, b.find("\r\n", at + 2) - at);
    };
    std::string get_head = get_bytes.substr(0, get_bytes.find("\r\n\r\n") + 4);
    EXPECT_EQ(without_date(head_bytes), without_date(get_head)) << path;
  }
  // Errors to a HEAD have no body either.
  std::string missing = render(plan_for("HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n").response);
  EXPECT_EQ(missing.rfind("HTTP/1.1 404 ", 0), 0u);
  EXPECT_EQ(missing.substr(missing.size() - 4), "\r\n\r\n");
  EXPECT_NE(missing.find("Content-Length: 10\r\n"), std::string::npos) << missing;
  Plan echo = plan_for("HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(echo.response.status, 405);
  EXPECT_EQ(echo.response.allow, "POST");
}

TEST(Router, EchoWithoutLengthIs411) {
  Plan p = plan_for("POST /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(p.response.status, 411);
  EXPECT_TRUE(p.response.close);
}

TEST(Router, UnknownPathIs404) {
  Plan p = plan_for("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(p.response.status, 404);
  EXPECT_TRUE(p.response.close);
}

TEST(Router, WrongMethodIs405WithAllow) {
  Plan post_hello = plan_for("POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(post_hello.response.status, 405);
  EXPECT_EQ(post_hello.response.allow, "GET, HEAD");
  Plan get_echo = plan_for("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(get_echo.response.status, 405);
  EXPECT_EQ(get_echo.response.allow, "POST");
  EXPECT_EQ(plan_for("DELETE /sleep/1 HTTP/1.1\r\nHost: x\r\n\r\n").response.status, 405);
}

TEST(Router, ConnectionCloseAndHttp10) {
  EXPECT_TRUE(plan_for("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").response.close);
  EXPECT_TRUE(plan_for("GET / HTTP/1.0\r\n\r\n").response.close);
  Plan kept = plan_for("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_FALSE(kept.response.close);
  EXPECT_TRUE(kept.response.keep_alive_header);
}

TEST(Router, ErrorResponsesCloseWithTheirStatus) {
  for (int status : {400, 408, 413, 431, 501, 505}) {
    Response r = error_response(status);
    EXPECT_EQ(r.status, status);
    EXPECT_TRUE(r.close);
    EXPECT_NE(status_reason(status), "Unknown");
  }
}

TEST(Serialize, HelloHasEveryHeader) {
  std::string bytes = render(plan_for("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").response);
  EXPECT_EQ(bytes.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << bytes;
  EXPECT_NE(bytes.find("\r\nServer: iomodels-test\r\n"), std::string::npos);
  EXPECT_NE(bytes.find("\r\nDate: "), std::string::npos);
  EXPECT_NE(bytes.find(" GMT\r\n"), std::string::npos);
  EXPECT_NE(bytes.find("\r\nContent-Type: text/plain\r\n"), std::string::npos);
  EXPECT_NE(bytes.find("\r\nContent-Length: 13\r\n"), std::string::npos);
  EXPECT_EQ(bytes.find("Connection:"), std::string::npos);
  EXPECT_EQ(bytes.substr(bytes.size() - 17), "\r\n\r\nHello, World!");
}

TEST(Serialize, CloseAnd405Headers) {
  std::string bytes =
      render(plan_for("POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").response);
  EXPECT_EQ(bytes.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u);
  EXPECT_NE(bytes.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos);
  EXPECT_NE(bytes.find("\r\nConnection: close\r\n"), std::string::npos);
}

TEST(Serialize, Http10KeepAliveIsSaid) {
  std::string bytes = render(plan_for("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").response);
  EXPECT_NE(bytes.find("\r\nConnection: keep-alive\r\n"), std::string::npos);
}

TEST(Serialize, BytesBodyIsThePattern) {
  for (std::uint64_t n : {0ull, 1ull, 61ull, 65536ull, 200000ull}) {
    std::string bytes =
        render(plan_for("GET /bytes/" + std::to_string(n) + " HTTP/1.1\r\nHost: x\r\n\r\n").response);
    auto body_at = bytes.find("\r\n\r\n") + 4;
    ASSERT_EQ(bytes.size() - body_at, n);
    EXPECT_NE(bytes.find("Content-Length: " + std::to_string(n) + "\r\n"), std::string::npos);
    EXPECT_TRUE(check_pattern({bytes.data() + body_at, n}, 0)) << n;
  }
}

TEST(BodyPattern, DetectsAShiftedOrDamagedBody) {
  std::string body(1000, 0);
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = pattern_byte(i);
  EXPECT_TRUE(check_pattern(body, 0));
  EXPECT_TRUE(check_pattern(std::string_view(body).substr(100), 100));
  EXPECT_FALSE(check_pattern(std::string_view(body).substr(64), 0));
  body[500] ^= 1;
  EXPECT_FALSE(check_pattern(body, 0));
}

}  // namespace
}  // namespace iomodels::http
