// The request parser: whole requests, requests in pieces, pipelined batches,
// limits, memory, and the statuses of SPEC §3. The RFC 9110/9112 rules one by
// one are in request_conformance_test.cpp.
#include "protocol/request_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/parse_feed.hpp"

namespace iomodels::http {
namespace {

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
  const std::string input = kHello + "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde" +
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
  for (int i = 0; i < 16; ++i) batch += "GET /bytes/" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  Parsed p = feed(batch);
  ASSERT_EQ(p.targets.size(), 16u);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(p.targets[i], "/bytes/" + std::to_string(i));
}

TEST(RequestParser, PostBodyIsCollected) {
  Parsed p = feed("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world");
  ASSERT_EQ(p.bodies.size(), 1u);
  EXPECT_EQ(p.bodies[0], "hello world");
}

TEST(RequestParser, Http10ClosesUnlessKeepAlive) {
  EXPECT_FALSE(feed("GET / HTTP/1.0\r\n\r\n").keep_alive.at(0));
  EXPECT_TRUE(feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive.at(0));
}

TEST(RequestParser, Http11KeepsAliveUnlessClose) {
  EXPECT_TRUE(feed(kHello).keep_alive.at(0));
  EXPECT_FALSE(feed("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").keep_alive.at(0));
}

TEST(RequestParser, MalformedRequestLineIs400) {
  EXPECT_EQ(feed("GARBAGE\r\n\r\n").error, 400);
  EXPECT_EQ(feed("GET /he llo HTTP/1.1\r\nHost: x\r\n\r\n").error, 400);
}

TEST(RequestParser, MalformedHeaderIs400) {
  EXPECT_EQ(feed("GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n").error, 400);
  EXPECT_EQ(feed(std::string("GET / HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n", 35)).error, 400);
}

TEST(RequestParser, WhitespaceBeforeTheColonIs400) {
  // RFC 9112 §5.1; otherwise "Transfer-Encoding : chunked" slips past the
  // framing rules.
  EXPECT_EQ(status_of("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost\t: x\r\n\r\n"), 400);
}

TEST(RequestParser, BadContentLengthIs400) {
  const std::string post = "POST /echo HTTP/1.1\r\nHost: x\r\n";
  EXPECT_EQ(status_of(post + "Content-Length: -1\r\n\r\n"), 400);
  EXPECT_EQ(status_of(post + "Content-Length: 12x\r\n\r\n"), 400);
  EXPECT_EQ(status_of(post + "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab"), 400);
  EXPECT_EQ(status_of(post + "Content-Length: 99999999999999999999999\r\n\r\n"), 400);
}

TEST(RequestParser, BodyOverLimitIs413BeforeTheBodyArrives) {
  Limits limits;
  limits.max_body = 10;
  const std::string post = "POST /echo HTTP/1.1\r\nHost: x\r\n";
  EXPECT_EQ(status_of(post + "Content-Length: 11\r\n\r\n", limits), 413);
  EXPECT_EQ(status_of(post + "Content-Length: 10\r\n\r\n0123456789", limits), 0);
}

TEST(RequestParser, HeaderSectionOverLimitIs431) {
  Limits limits;
  limits.max_header_bytes = 256;
  std::string big = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(300, 'a') + "\r\n\r\n";
  EXPECT_EQ(status_of(big, limits), 431);
  std::string long_target = "GET /" + std::string(300, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(status_of(long_target, limits), 431);
  // Exactly at the limit is accepted.
  std::string fits = "GET / HTTP/1.1\r\nHost: x\r\nX: ";
  fits += std::string(256 - fits.size() - 4, 'a') + "\r\n\r\n";
  ASSERT_EQ(fits.size(), 256u);
  EXPECT_EQ(status_of(fits, limits), 0);
  EXPECT_EQ(status_of(fits.substr(0, 28) + "a" + fits.substr(28), limits), 431);
}

TEST(RequestParser, ManySmallHeadersOverLimitAre431) {
  Limits limits;
  limits.max_header_bytes = 512;
  std::string many = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 100; ++i) many += "A: b\r\n";
  many += "\r\n";
  EXPECT_EQ(status_of(many, limits), 431);
}

TEST(RequestParser, EmptyLinesBeforeARequestAreSkippedButCounted) {
  // RFC 9112 §2.2: a server SHOULD skip at least one; an endless stream of
  // them must end in 431, not hold the connection idle for ever.
  Parsed p = feed_every_way("\r\n\r\n" + kHello);
  EXPECT_EQ(p.targets, std::vector<std::string>{"/hello"});
  Limits limits;
  limits.max_header_bytes = 256;
  EXPECT_EQ(status_of("  " + kHello, limits), 400);  // spaces are not empty lines
  std::string blank;
  for (int i = 0; i < 200; ++i) blank += "\r\n";
  EXPECT_EQ(feed(blank, 0, limits).error, 431);
  EXPECT_EQ(feed(blank, 1, limits).error, 431);
  EXPECT_EQ(status_of("\n" + kHello), 400);  // a bare LF is not an empty line
}

TEST(RequestParser, OtherVersionsAre505) {
  EXPECT_EQ(status_of("GET / HTTP/2.0\r\n\r\n"), 505);
  EXPECT_EQ(status_of("GET / HTTP/1.2\r\n\r\n"), 505);
  EXPECT_EQ(status_of("GET / HTTP/0.9\r\n\r\n"), 505);
  EXPECT_EQ(status_of("GET / HTTP/9.9\r\nHost: x\r\n\r\n"), 505);
}

TEST(RequestParser, MalformedVersionsAre400) {
  EXPECT_EQ(status_of("GET /hello\r\n\r\n"), 400);  // HTTP/0.9's form
  EXPECT_EQ(status_of("GET / HTTP/99999.1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/-1.1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTCPCP/1.0\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / http/1.1\r\nHost: x\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1 \r\nHost: x\r\n\r\n"), 400);
}

TEST(RequestParser, HeadIsParsedAsHead) {
  RequestParser parser;
  std::string head = "HEAD /bytes/10 HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(parser.parse(head).status, ParseStatus::Complete);
  EXPECT_EQ(parser.request().method, Method::Head);
  EXPECT_EQ(parser.request().method_name, "HEAD");
}

TEST(RequestParser, UnknownMethodIsKeptByName) {
  Parsed p = feed_every_way("BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(p.methods, std::vector<std::string>{"BREW"});
}

TEST(RequestParser, RequestFieldsAreReadyWhenTheHeaderIs) {
  // What a session needs to answer Expect: 100-continue before the body.
  RequestParser parser;
  std::string head =
      "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
  ParseResult r = parser.parse(head);
  ASSERT_EQ(r.status, ParseStatus::NeedMore);
  EXPECT_TRUE(parser.headers_complete());
  EXPECT_TRUE(parser.awaiting_body());
  EXPECT_TRUE(parser.request().has_expect);
  EXPECT_EQ(parser.request().expect, "100-continue");
  EXPECT_EQ(parser.request().target, "/echo");
  EXPECT_EQ(parser.request().content_length, 5u);
  ASSERT_EQ(parser.parse(std::string_view("hello")).status, ParseStatus::Complete);
  EXPECT_FALSE(parser.awaiting_body());
  EXPECT_EQ(parser.request().body, "hello");

  RequestParser get;
  ASSERT_EQ(get.parse(kHello).status, ParseStatus::Complete);
  EXPECT_FALSE(get.awaiting_body());
  EXPECT_FALSE(get.request().has_expect);

  RequestParser chunked;
  std::string chunked_head = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  ASSERT_EQ(chunked.parse(chunked_head).status, ParseStatus::NeedMore);
  EXPECT_TRUE(chunked.awaiting_body());
  EXPECT_TRUE(chunked.request().chunked);
}

// RFC 9110 §5.3: several Expect lines are one list; the session must see
// every member, or "Expect: 100-continue" could hide an expectation a
// second line makes.
TEST(RequestParser, ExpectLinesAreJoinedIntoOneList) {
  const std::string head =
      "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n"
      "Expect: foo\r\n\r\n";
  for (std::size_t cut = 1; cut <= head.size(); ++cut) {
    RequestParser parser;
    ASSERT_EQ(parser.parse(std::string_view(head).substr(0, cut)).status, ParseStatus::NeedMore);
    if (cut < head.size()) {
      ASSERT_EQ(parser.parse(std::string_view(head).substr(cut)).status, ParseStatus::NeedMore);
    }
    ASSERT_TRUE(parser.headers_complete()) << "cut at " << cut;
    EXPECT_EQ(parser.request().expect, "100-continue, foo") << "cut at " << cut;
  }
}

TEST(RequestParser, BodyMemoryFollowsTheBytesNotContentLength) {
  // A 60-byte header announcing 8 MiB must not commit 8 MiB.
  RequestParser parser;
  std::string head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 8388608\r\n\r\n";
  ASSERT_EQ(parser.parse(head).status, ParseStatus::NeedMore);
  ASSERT_EQ(parser.parse(std::string_view("0123456789")).status, ParseStatus::NeedMore);
  EXPECT_LT(parser.memory_held(), 4096u);
}

TEST(RequestParser, LargeBodyMemoryIsGivenBack) {
  const std::string body(1 << 20, 'b');
  const std::string post =
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  RequestParser parser;
  ASSERT_EQ(parser.parse(post + body).status, ParseStatus::Complete);
  EXPECT_GE(parser.memory_held(), body.size());  // it did hold the body
  // Reused on the same connection: the next request starts small.
  ASSERT_EQ(parser.parse(kHello).status, ParseStatus::Complete);
  EXPECT_LT(parser.memory_held(), 64u * 1024);
  // Reset for a pool, in the middle of a body.
  ASSERT_EQ(parser.parse(post + body.substr(0, 500'000)).status, ParseStatus::NeedMore);
  EXPECT_GE(parser.memory_held(), 500'000u);
  parser.reset();
  EXPECT_LT(parser.memory_held(), 64u * 1024);
  // A chunked body is given back too.
  std::string chunked = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 16; ++i) chunked += "10000\r\n" + std::string(65536, 'c') + "\r\n";
  ASSERT_EQ(parser.parse(chunked + "0\r\n\r\n").status, ParseStatus::Complete);
  EXPECT_EQ(parser.request().body.size(), 16u * 65536);
  parser.reset();
  EXPECT_LT(parser.memory_held(), 64u * 1024);
}

TEST(RequestParser, IncompleteRequestIsNotAnAnswer) {
  // The helper must tell "no error yet" from "accepted": a request cut short
  // is neither.
  EXPECT_EQ(status_of("GET /hello HTTP/1.1\r\nHost: x\r\n"), -1);
  EXPECT_EQ(status_of("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabc"), -1);
}

TEST(RequestParser, ErrorIsSticky) {
  RequestParser parser;
  std::string bad = "BAD\r\n\r\n";
  EXPECT_EQ(status_of(bad), 400);
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
