// Every route of SPEC §3 and the headers every response carries.
#include <cstdlib>
#include <ctime>
#include <string>
#include <thread>

#include "protocol/body_pattern.hpp"
#include "tests/blackbox/suite.hpp"

namespace iomodels::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Seconds between an IMF-fixdate ("Thu, 26 Nov 2026 09:38:29 GMT") and now.
long long seconds_from_now(const std::string& date) {
  std::tm tm{};
  const char* end = strptime(date.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return 1'000'000;
  return static_cast<long long>(timegm(&tm)) - static_cast<long long>(std::time(nullptr));
}

void expect_common_headers(const HttpResponse& r) {
  EXPECT_EQ(r.version, "HTTP/1.1");
  EXPECT_EQ(r.header("Server"), "iomodels-" + suite().model);
  ASSERT_EQ(r.header_count("Date"), 1u);
  const std::string date = *r.header("Date");
  // The fixed-length IMF-fixdate, which strptime() below also checks field by
  // field (a date that does not parse is a million seconds off).
  EXPECT_EQ(date.size(), 29u) << date;
  EXPECT_LE(std::abs(seconds_from_now(date)), 5) << date;
  ASSERT_EQ(r.header_count("Content-Length"), 1u);
  EXPECT_EQ(r.header("Content-Length"), std::to_string(r.body.size()));
}

class Routes : public BlackBox {
 protected:
  void SetUp() override { start(); }
};

TEST_F(Routes, HelloAndRootSayHelloWorld) {
  HttpConnection c = server().connect();
  for (const char* path : {"/", "/hello", "/hello?name=x"}) {
    SCOPED_TRACE(path);
    ASSERT_TRUE(c.send(get_request(path)));
    READ_OK(r, c);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.reason, "OK");
    EXPECT_EQ(r.header("Content-Type"), "text/plain");
    EXPECT_EQ(r.body, "Hello, World!");
    EXPECT_EQ(r.header("Connection"), std::nullopt);  // HTTP/1.1 keep-alive is implicit
    expect_common_headers(r);
  }
}

TEST_F(Routes, DateIsRefreshedEverySecond) {
  HttpConnection c = server().connect();
  ASSERT_TRUE(c.send(get_request("/hello")));
  READ_OK(first, c);
  std::this_thread::sleep_for(1100ms);
  ASSERT_TRUE(c.send(get_request("/hello")));
  READ_OK(second, c);
  EXPECT_NE(first.header("Date"), second.header("Date"));
  expect_common_headers(second);
}

TEST_F(Routes, BytesBodiesFollowThePattern) {
  HttpConnection c = server().connect();
  for (std::uint64_t n : {0ull, 1ull, 61ull, 65536ull, 8ull * 1024 * 1024}) {
    SCOPED_TRACE("/bytes/" + std::to_string(n));
    ASSERT_TRUE(c.send(get_request("/bytes/" + std::to_string(n))));
    READ_OK(r, c);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "application/octet-stream");
    ASSERT_EQ(r.body.size(), n);
    EXPECT_TRUE(http::check_pattern(r.body, 0));
    expect_common_headers(r);
  }
}

TEST_F(Routes, EchoReturnsTheBody) {
  HttpConnection c = server().connect();
  std::string binary(256, '\0');
  for (int i = 0; i < 256; ++i) binary[i] = static_cast<char>(i);
  std::string large(1 << 20, 'x');
  for (std::size_t i = 0; i < large.size(); i += 997) large[i] = static_cast<char>('a' + i % 26);
  for (const std::string& body : {std::string(), std::string("ping"), binary, large}) {
    SCOPED_TRACE("body of " + std::to_string(body.size()) + " bytes");
    ASSERT_TRUE(c.send(post_request("/echo", body)));
    READ_OK(r, c);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "application/octet-stream");
    EXPECT_TRUE(r.body == body);
    expect_common_headers(r);
  }
}

TEST_F(Routes, CpuBurnsThenAnswers) {
  HttpConnection c = server().connect();
  ASSERT_TRUE(c.send(get_request("/cpu/20000")));
  READ_OK(r, c);
  EXPECT_EQ(r.status, 200);
  expect_common_headers(r);
  ASSERT_TRUE(c.send(get_request("/cpu/0")));
  READ_OK(zero, c);
  EXPECT_EQ(zero.status, 200);
}

TEST_F(Routes, SleepWaitsAtLeastThatLong) {
  HttpConnection c = server().connect();
  auto start = Clock::now();
  ASSERT_TRUE(c.send(get_request("/sleep/150")));
  READ_OK(r, c);
  EXPECT_EQ(r.status, 200);
  EXPECT_GE(ms_since(start), 150);
  expect_common_headers(r);
  ASSERT_TRUE(c.send(get_request("/sleep/0")));
  READ_OK(zero, c);
  EXPECT_EQ(zero.status, 200);
}

}  // namespace
}  // namespace iomodels::testing
