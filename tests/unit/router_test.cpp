// Routing (a pure function from request to plan) and serialisation.
#include "protocol/router.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "protocol/body_pattern.hpp"
#include "protocol/request_rules.hpp"

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
  for (int status : {400, 408, 413, 417, 431, 501, 505}) {
    Response r = error_response(status);
    EXPECT_EQ(r.status, status);
    EXPECT_TRUE(r.close);
    EXPECT_NE(status_reason(status), "Unknown");
  }
}

// RFC 9110 §10.1.1: "100-continue" (any case) is the one expectation; any
// other member of the list is one we cannot meet; an empty list asks nothing.
TEST(Router, ExpectationsAreReadAsAList) {
  using rules::Expectation;
  for (const char* value : {"100-continue", "100-Continue", " 100-CONTINUE ", "100-continue,",
                            ", 100-continue", "100-continue, 100-continue"}) {
    EXPECT_EQ(rules::expectation(value), Expectation::Continue) << value;
  }
  for (const char* value :
       {"foo", "100-continue, foo", "foo, 100-continue", "100-continue;a=b", "100-continue=1",
        "100-continues", "1OO-continue", "\"100-continue\""}) {
    EXPECT_EQ(rules::expectation(value), Expectation::Unknown) << value;
  }
  for (const char* value : {"", " ", ",", " , "}) {
    EXPECT_EQ(rules::expectation(value), Expectation::None) << "'" << value << "'";
  }
}

// What the Expect field of a request gets once its head is in (the body
// not yet): the parser keeps the head's views until it is fed again.
ExpectAnswer expect_for(const std::string& head, Limits limits = {}) {
  static std::unique_ptr<RequestParser> parser;
  parser = std::make_unique<RequestParser>(limits);
  parser->parse(head);
  EXPECT_TRUE(parser->headers_complete()) << head;
  return answer_expectation(parser->request(), limits);
}

TEST(Router, ContinueWhenTheBodyIsWanted) {
  for (const char* head :
       {"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nTransfer-Encoding: "
        "chunked\r\n\r\n",
        // A body on a GET is read and dropped; its answer is a success.
        "GET /hello HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"}) {
    ExpectAnswer a = expect_for(head);
    EXPECT_TRUE(a.send_continue) << head;
    EXPECT_FALSE(a.final) << head;
  }
  EXPECT_EQ(kContinue, "HTTP/1.1 100 Continue\r\n\r\n");
}

TEST(Router, TheHeadsOwnErrorInsteadOfContinue) {
  const std::pair<const char*, int> cases[] = {
      {"POST /nope HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", 404},
      {"POST /hello HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", 405},
      {"PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: "
       "chunked\r\n\r\n",
       405},
  };
  for (const auto& [head, status] : cases) {
    ExpectAnswer a = expect_for(head);
    EXPECT_FALSE(a.send_continue) << head;
    ASSERT_TRUE(a.final) << head;
    EXPECT_EQ(a.response.status, status) << head;
    EXPECT_TRUE(a.response.close) << "the body is not read: the connection cannot go on";
  }
}

TEST(Router, UnknownExpectationIs417) {
  for (const char* head :
       {"GET /hello HTTP/1.1\r\nHost: x\r\nExpect: foo\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue, foo\r\nContent-Length: 5\r\n\r\n",
        "POST /nope HTTP/1.1\r\nHost: x\r\nExpect: bar\r\nContent-Length: 5\r\n\r\n"}) {
    ExpectAnswer a = expect_for(head);
    ASSERT_TRUE(a.final) << head;
    EXPECT_EQ(a.response.status, 417) << head;
    EXPECT_TRUE(a.response.close);
    EXPECT_FALSE(a.send_continue);
  }
}

TEST(Router, NothingToAnswerWithoutABodyOrInHttp10) {
  for (const char* head :
       {"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
        "GET /hello HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n",
        // RFC 9110 §10.1.1: an HTTP/1.0 request's 100-continue MUST be
        // ignored; other expectations too (see answer_expectation()).
        "POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        "POST /echo HTTP/1.0\r\nExpect: foo\r\nContent-Length: 5\r\n\r\n",
        "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /hello HTTP/1.1\r\nHost: x\r\nExpect:\r\n\r\n"}) {
    ExpectAnswer a = expect_for(head);
    EXPECT_FALSE(a.send_continue) << head;
    EXPECT_FALSE(a.final) << head;
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
    std::string bytes = render(
        plan_for("GET /bytes/" + std::to_string(n) + " HTTP/1.1\r\nHost: x\r\n\r\n").response);
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
