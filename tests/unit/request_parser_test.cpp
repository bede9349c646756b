// The request parser: whole requests, requests in pieces, pipelined batches,
// and every error status it decides (SPEC §3).
#include "protocol/request_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace iomodels::http {
namespace {

struct Parsed {
  std::vector<std::string> targets;
  std::vector<std::string> bodies;
  std::vector<bool> keep_alive;
  int error = 0;
};

// Feeds `input` in pieces of `piece` bytes (0: all at once), answering every
// complete request before feeding the rest, as a server does.
Parsed feed(const std::string& input, std::size_t piece = 0, Limits limits = {}) {
  RequestParser parser(limits);
  Parsed out;
  std::size_t pos = 0;
  while (pos < input.size()) {
    std::size_t len = piece == 0 ? input.size() - pos : std::min(piece, input.size() - pos);
    std::span<const char> data(input.data() + pos, len);
    while (!data.empty()) {
      ParseResult r = parser.parse(data);
      data = data.subspan(r.consumed);
      pos += r.consumed;
      if (r.status == ParseStatus::Error) {
        out.error = parser.error_status();
        return out;
      }
      if (r.status == ParseStatus::NeedMore) break;
      out.targets.emplace_back(parser.request().target);
      out.bodies.emplace_back(parser.request().body);
      out.keep_alive.push_back(parser.request().keep_alive);
    }
  }
  return out;
}

const std::string kHello = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";

TEST(RequestParser, ParsesASimpleGet) {
  RequestParser parser;
  ParseResult r = parser.parse(kHello);
  ASSERT_EQ(r.status, ParseStatus::Complete);
  EXPECT_EQ(r.consumed, kHello.size());
  EXPECT_EQ(parser.request().method, Method::Get);
  EXPECT_EQ(parser.request().target, "/hello");
  EXPECT_EQ(parser.request().version_minor, 1);
  EXPECT_TRUE(parser.request().keep_alive);
  EXPECT_FALSE(parser.in_progress());
}

TEST(RequestParser, ByteAtATimeEqualsAllAtOnce) {
  const std::string input = kHello + "POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde" +
                            "GET /bytes/10?x=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
  Parsed whole = feed(input);
  ASSERT_EQ(whole.targets.size(), 3u);
  for (std::size_t piece = 1; piece <= input.size(); ++piece) {
    Parsed split = feed(input, piece);
    EXPECT_EQ(split.targets, whole.targets) << "piece " << piece;
    EXPECT_EQ(split.bodies, whole.bodies) << "piece " << piece;
    EXPECT_EQ(split.keep_alive, whole.keep_alive) << "piece " << piece;
    EXPECT_EQ(split.error, 0) << "piece " << piece;
  }
}

TEST(RequestParser, SplitAtEveryBoundaryOfOneRequest) {
  for (std::size_t cut = 1; cut < kHello.size(); ++cut) {
    RequestParser parser;
    ParseResult first = parser.parse(std::span<const char>(kHello.data(), cut));
    ASSERT_EQ(first.status, ParseStatus::NeedMore) << cut;
    EXPECT_TRUE(parser.in_progress());
    ParseResult second =
        parser.parse(std::span<const char>(kHello.data() + cut, kHello.size() - cut));
    ASSERT_EQ(second.status, ParseStatus::Complete) << cut;
    EXPECT_EQ(parser.request().target, "/hello");
  }
}

TEST(RequestParser, PipelinedBatchOfSixteenComesOutInOrder) {
  std::string batch;
  for (int i = 0; i < 16; ++i) batch += "GET /bytes/" + std::to_string(i) + " HTTP/1.1\r\n\r\n";
  Parsed p = feed(batch);
  ASSERT_EQ(p.targets.size(), 16u);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(p.targets[i], "/bytes/" + std::to_string(i));
}

TEST(RequestParser, PostBodyIsCollected) {
  Parsed p = feed("POST /echo HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world");
  ASSERT_EQ(p.bodies.size(), 1u);
  EXPECT_EQ(p.bodies[0], "hello world");
}

TEST(RequestParser, Http10ClosesUnlessKeepAlive) {
  EXPECT_FALSE(feed("GET / HTTP/1.0\r\n\r\n").keep_alive.at(0));
  EXPECT_TRUE(feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive.at(0));
}

TEST(RequestParser, Http11KeepsAliveUnlessClose) {
  EXPECT_TRUE(feed(kHello).keep_alive.at(0));
  EXPECT_FALSE(feed("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive.at(0));
}

TEST(RequestParser, MalformedRequestLineIs400) {
  EXPECT_EQ(feed("GARBAGE\r\n\r\n").error, 400);
  EXPECT_EQ(feed("GET /he llo HTTP/1.1\r\n\r\n").error, 400);
}

TEST(RequestParser, MalformedHeaderIs400) {
  EXPECT_EQ(feed("GET / HTTP/1.1\r\nNo colon here\r\n\r\n").error, 400);
  EXPECT_EQ(feed(std::string("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 26)).error, 400);
}

TEST(RequestParser, WhitespaceBeforeTheColonIs400) {
  // RFC 9112 §5.1; otherwise "Transfer-Encoding : chunked" slips past 501.
  EXPECT_EQ(feed("POST /echo HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n").error, 400);
  EXPECT_EQ(feed("GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", 1).error, 400);
}

TEST(RequestParser, BadContentLengthIs400) {
  EXPECT_EQ(feed("POST /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n").error, 400);
  EXPECT_EQ(feed("POST /echo HTTP/1.1\r\nContent-Length: 12x\r\n\r\n").error, 400);
  EXPECT_EQ(feed("POST /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab").error,
            400);
}

TEST(RequestParser, BodyOverLimitIs413BeforeTheBodyArrives) {
  Limits limits;
  limits.max_body = 10;
  EXPECT_EQ(feed("POST /echo HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 0, limits).error, 413);
  EXPECT_EQ(feed("POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", 0, limits).error,
            0);
}

TEST(RequestParser, HeaderSectionOverLimitIs431) {
  Limits limits;
  limits.max_header_bytes = 256;
  std::string big = "GET / HTTP/1.1\r\nX-Big: " + std::string(300, 'a') + "\r\n\r\n";
  EXPECT_EQ(feed(big, 0, limits).error, 431);
  EXPECT_EQ(feed(big, 7, limits).error, 431);  // also when it trickles in
  std::string long_target = "GET /" + std::string(300, 'a') + " HTTP/1.1\r\n\r\n";
  EXPECT_EQ(feed(long_target, 0, limits).error, 431);
}

TEST(RequestParser, ManySmallHeadersOverLimitAre431) {
  Limits limits;
  limits.max_header_bytes = 512;
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i) many += "A: b\r\n";
  many += "\r\n";
  EXPECT_EQ(feed(many, 0, limits).error, 431);
  EXPECT_EQ(feed(many, 1, limits).error, 431);
}

TEST(RequestParser, TransferEncodingIs501) {
  EXPECT_EQ(feed("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").error, 501);
  EXPECT_EQ(feed("POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n").error, 501);
  EXPECT_EQ(feed("POST /echo HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n", 1).error, 501);
}

TEST(RequestParser, ContentLengthWithTransferEncodingIsRefused) {
  int status =
      feed("POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc")
          .error;
  EXPECT_EQ(status, 501);
}

TEST(RequestParser, OtherVersionsAre505) {
  EXPECT_EQ(feed("GET / HTTP/2.0\r\n\r\n").error, 505);
  EXPECT_EQ(feed("GET / HTTP/1.2\r\n\r\n").error, 505);
  EXPECT_EQ(feed("GET / HTTP/0.9\r\n\r\n").error, 505);
}

TEST(RequestParser, MissingVersionIsRefused) {
  // http-parser reads a request line without a version as HTTP/0.9.
  int status = feed("GET /hello\r\n\r\n").error;
  EXPECT_TRUE(status == 400 || status == 505) << status;
}

TEST(RequestParser, AbsurdVersionIsRefused) {
  int status = feed("GET / HTTP/99999.1\r\n\r\n").error;
  EXPECT_TRUE(status == 400 || status == 505) << status;
}

TEST(RequestParser, ErrorIsSticky) {
  RequestParser parser;
  std::string bad = "BAD\r\n\r\n";
  ASSERT_EQ(parser.parse(bad).status, ParseStatus::Error);
  EXPECT_EQ(parser.parse(kHello).status, ParseStatus::Error);
  parser.reset();
  EXPECT_EQ(parser.parse(kHello).status, ParseStatus::Complete);
}

TEST(RequestParser, IdleBetweenRequestsIsNotInProgress) {
  RequestParser parser;
  ASSERT_EQ(parser.parse(kHello).status, ParseStatus::Complete);
  EXPECT_FALSE(parser.in_progress());
  ASSERT_EQ(parser.parse(std::string_view("GE")).status, ParseStatus::NeedMore);
  EXPECT_TRUE(parser.in_progress());
  EXPECT_FALSE(parser.headers_complete());
}

}  // namespace
}  // namespace iomodels::http
