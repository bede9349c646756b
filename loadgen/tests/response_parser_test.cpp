#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "loadgen/response_parser.hpp"
#include "protocol/body_pattern.hpp"

using namespace iomodels::loadgen;

namespace {

std::string ok(std::string_view body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         std::string(body);
}

TEST(ResponseParser, PipelinedResponsesOneAtATime) {
  ResponseParser p;
  const std::string data =
      ok("Hello, World!") + "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
  std::span<const char> rest(data);
  auto r = p.feed(rest);
  ASSERT_EQ(r.status, ParseStatus::Complete);
  EXPECT_EQ(p.response().status, 200);
  EXPECT_EQ(p.response().body_bytes, 13u);
  rest = rest.subspan(r.consumed);
  r = p.feed(rest);
  ASSERT_EQ(r.status, ParseStatus::Complete);
  EXPECT_EQ(p.response().status, 404);
  EXPECT_EQ(r.consumed, rest.size());
}

// An interim response is not the answer: the final one that follows is.
// Taken as the answer, the 200 after it was an answer to nothing.
TEST(ResponseParser, InterimResponsesAreSkipped) {
  const std::string data =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 102 Processing\r\n\r\n" +
      ok("abc") + ok("de");
  for (std::size_t piece : {data.size(), std::size_t{1}, std::size_t{7}}) {
    ResponseParser p;
    std::vector<int> statuses;
    for (std::size_t at = 0; at < data.size();) {
      std::span<const char> chunk(data.data() + at, std::min(piece, data.size() - at));
      at += chunk.size();
      while (!chunk.empty()) {
        const auto r = p.feed(chunk);
        ASSERT_NE(r.status, ParseStatus::Error);
        if (r.status == ParseStatus::NeedMore) break;
        statuses.push_back(p.response().status);
        EXPECT_EQ(p.response().body_bytes, statuses.size() == 1 ? 3u : 2u);
        chunk = chunk.subspan(r.consumed);
      }
    }
    EXPECT_EQ(statuses, (std::vector<int>{200, 200})) << "pieces of " << piece;
  }
}

// The answer to a HEAD has the GET's Content-Length and no body; waiting
// for the body would hang until the timeout and eat the next response.
TEST(ResponseParser, HeadAnswersHaveNoBody) {
  ResponseParser p(std::nullopt, true);
  const std::string data =
      "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n";
  std::span<const char> rest(data);
  auto r = p.feed(rest);
  ASSERT_EQ(r.status, ParseStatus::Complete);
  EXPECT_EQ(p.response().body_bytes, 0u);
  EXPECT_EQ(r.consumed, data.size() / 2);
  r = p.feed(rest.subspan(r.consumed));
  ASSERT_EQ(r.status, ParseStatus::Complete);
  EXPECT_EQ(p.response().status, 200);
}

TEST(ResponseParser, ByteByByte) {
  ResponseParser p;
  const std::string data = ok("abc");
  for (std::size_t i = 0; i + 1 < data.size(); ++i) {
    ASSERT_EQ(p.feed({&data[i], 1}).status, ParseStatus::NeedMore) << i;
    EXPECT_TRUE(p.in_progress());
  }
  EXPECT_EQ(p.feed({&data.back(), 1}).status, ParseStatus::Complete);
}

TEST(ResponseParser, GarbageIsAnError) {
  ResponseParser p;
  const std::string data = "garbage, not HTTP\r\n\r\n";
  EXPECT_EQ(p.feed(data).status, ParseStatus::Error);
  EXPECT_FALSE(p.error().empty());
  EXPECT_EQ(p.feed(data).status, ParseStatus::Error);  // stays failed
  p.reset();
  EXPECT_EQ(p.feed(ok("x")).status, ParseStatus::Complete);
}

TEST(ResponseParser, ConnectionCloseAndChunked) {
  ResponseParser p;
  const std::string data =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: "
      "close\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
  ASSERT_EQ(p.feed(data).status, ParseStatus::Complete);
  EXPECT_FALSE(p.response().keep_alive);
  EXPECT_EQ(p.response().body_bytes, 3u);
}

TEST(ResponseParser, BodyUntilCloseCompletesAtEof) {
  ResponseParser p;
  const std::string data = "HTTP/1.0 200 OK\r\n\r\nsome body";
  EXPECT_EQ(p.feed(data).status, ParseStatus::NeedMore);
  EXPECT_EQ(p.feed_eof().status, ParseStatus::Complete);
  EXPECT_EQ(p.response().body_bytes, 9u);
}

TEST(ResponseParser, TruncatedResponseAtEofIsAnError) {
  ResponseParser p;
  const std::string data = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
  EXPECT_EQ(p.feed(data).status, ParseStatus::NeedMore);
  EXPECT_EQ(p.feed_eof().status, ParseStatus::Error);
}

TEST(ResponseParser, PatternBodyIsChecked) {
  std::string body;
  for (int i = 0; i < 1000; ++i) body += iomodels::http::pattern_byte(i);
  {
    ResponseParser p(1000);
    const std::string data = ok(body);
    // In two pieces, so the check continues at the right offset.
    auto r = p.feed({data.data(), 500});
    ASSERT_EQ(r.status, ParseStatus::NeedMore);
    ASSERT_EQ(p.feed({data.data() + 500, data.size() - 500}).status, ParseStatus::Complete);
    EXPECT_TRUE(p.response().body_ok);
  }
  {
    ResponseParser p(1000);
    std::string bad = body;
    bad[700] = '!';
    ASSERT_EQ(p.feed(ok(bad)).status, ParseStatus::Complete);
    EXPECT_FALSE(p.response().body_ok);
  }
  {
    ResponseParser p(1001);  // one byte short
    ASSERT_EQ(p.feed(ok(body)).status, ParseStatus::Complete);
    EXPECT_FALSE(p.response().body_ok);
  }
}

TEST(ResponseParser, RandomBytesNeverCrash) {
  std::mt19937 rng(5);
  for (int round = 0; round < 2000; ++round) {
    ResponseParser p(10);
    std::string data = round % 2 ? ok("0123456789") : "";
    const int extra = static_cast<int>(rng() % 64);
    for (int i = 0; i < extra; ++i)
      data.insert(data.begin() + rng() % (data.size() + 1), static_cast<char>(rng()));
    std::span<const char> rest(data);
    while (!rest.empty()) {
      const auto r = p.feed(rest);
      if (r.status != ParseStatus::Complete) break;
      ASSERT_LE(r.consumed, rest.size());
      rest = rest.subspan(r.consumed);
    }
    p.feed_eof();
  }
}

}  // namespace
