// The RFC 9110/9112 rules of the request parser, one test per rule, each
// input fed whole, byte by byte and cut in two at every byte. docs/hostile.md
// tabulates them beside what nginx and Node.js do with the same bytes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/request_parser.hpp"
#include "tests/unit/parse_feed.hpp"

namespace iomodels::http {
namespace {

const std::string kHello = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
const std::string kPost = "POST /echo HTTP/1.1\r\nHost: x\r\n";
const std::string kChunkedPost = kPost + "Transfer-Encoding: chunked\r\n\r\n";

std::string with_byte(const std::string& before, char c, const std::string& after) {
  return before + std::string(1, c) + after;
}

// RFC 9112 §2.2: a bare CR anywhere in the header section is invalid. The
// issue's two smuggling inputs: a CR that would start a Content-Length, and
// one that would start a second request.
TEST(Conformance, BareCrIs400) {
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: x\r\nFoo:\rXContent-Length: 26\r\n\r\n" + kHello),
            400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: x\r\n\rXGET /bytes/1 HTTP/1.1\r\nHost: x\r\n\r\n"),
            400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\rHost: x\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /a\rb HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: x\r\n\r\r\n"), 400);
}

// RFC 9112 §2.2: we do not take a bare LF as a line end (a MAY we decline:
// a proxy in front that does not would see other requests than we do).
TEST(Conformance, BareLfIs400) {
  EXPECT_EQ(status_of("GET / HTTP/1.1\nHost: x\n\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n"), 400);
  // (Beast needs the byte after a bare LF that ends the section to decide.)
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: x\r\n\nGET"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: x\r\n\n"), -1);
}

// RFC 9110 §5.5: field values are VCHAR, obs-text, SP and HTAB; CTLs are not.
TEST(Conformance, ControlCharactersInAFieldValueAre400) {
  const std::string before = "GET / HTTP/1.1\r\nHost: x\r\nX: a";
  for (char c : {'\0', '\x01', '\x0b', '\x0c', '\x1b', '\x7f'}) {
    EXPECT_EQ(status_of(with_byte(before, c, "b\r\n\r\n")), 400) << int(c);
  }
  EXPECT_EQ(status_of(with_byte(before, '\t', "b\r\n\r\n")), 0);
  EXPECT_EQ(status_of(with_byte(before, '\xe9', "b\r\n\r\n")), 0);  // obs-text
}

// RFC 9112 §3.2, RFC 3986 §2: the bytes a request-target may hold.
TEST(Conformance, InvalidRequestTargetBytesAre400) {
  for (char c : {'\t', '\x01', '\x7f', '\x80', '\xff', '"', '<', '>', '\\', '^', '`', '{', '|',
                 '}', '#'}) {
    EXPECT_EQ(status_of(with_byte("GET /a", c, "b HTTP/1.1\r\nHost: x\r\n\r\n")), 400) << int(c);
  }
  EXPECT_EQ(status_of("GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /a% HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
  Parsed ok = feed_every_way(
      "GET /a-b._~!$&'()*+,;=:@/c?d=%2F&e=[1] HTTP/1.1\r\nHost: x\r\n\r\n"
      "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET http://x:80/y HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(ok.error, 0);
  EXPECT_EQ(ok.targets.size(), 3u);
}

// RFC 9110 §5.1, RFC 9112 §5: a field name is a token, directly followed by
// the colon.
TEST(Conformance, FieldNamesMustBeTokens) {
  for (std::string line : {"X Y: 1", "X@Y: 1", "(X): 1", "X[1]: 1", ": 1", "X\x01: 1", "X\x80: 1",
                           "X : 1", " X: 1", "X\t: 1", "X/Y: 1", "X=Y: 1", "\"X\": 1"}) {
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: x\r\n" + line + "\r\n\r\n"), 400) << line;
  }
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: x\r\nX-a_b.c!#$%&'*+^`|~9: 1\r\n\r\n"), 0);
}

// RFC 9112 §3.2: HTTP/1.1 needs exactly one Host, with a valid value.
TEST(Conformance, HostRules) {
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), 400);
  for (std::string bad : {"a, b", "a,b", "a b", "a/b", "a@b", "a:b", "a:80:80", "[::1", "[]",
                          "[::1]x", "a%zz", "a?b", "a#b"}) {
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: " + bad + "\r\n\r\n"), 400) << bad;
  }
  for (std::string good : {"", "a", "example.com:8080", "127.0.0.1:80", "[::1]:8080", "[::1]",
                           "a-b.c_d~e", "xn--bcher-kva.example", "a%41", "a:"}) {
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: " + good + "\r\n\r\n"), 0) << good;
  }
  // HTTP/1.0 may leave Host out, but not send two.
  EXPECT_EQ(status_of("GET / HTTP/1.0\r\n\r\n"), 0);
  EXPECT_EQ(status_of("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
}

// RFC 9112 §7.1: chunked bodies are parsed: sizes, extensions, trailers.
TEST(Conformance, ChunkedBodiesAreParsed) {
  Parsed p = feed_every_way(kChunkedPost + "5\r\nhello\r\n1;a=b;c\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n" +
                            kHello);
  ASSERT_EQ(p.error, 0);
  ASSERT_EQ(p.bodies.size(), 2u);
  EXPECT_EQ(p.bodies[0], "hello 0123456789");
  EXPECT_EQ(p.targets[1], "/hello");

  Parsed trailers = feed_every_way(kChunkedPost + "3\r\nabc\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n");
  ASSERT_EQ(trailers.error, 0);
  EXPECT_EQ(trailers.bodies, std::vector<std::string>{"abc"});

  Parsed empty = feed_every_way(kChunkedPost + "0\r\n\r\n");
  EXPECT_EQ(empty.bodies, std::vector<std::string>{""});

  // Upper-case hex, leading zeros up to 16 digits, quoted extension values.
  Parsed hex = feed_every_way(kChunkedPost + "0000000000000003;q=\"a b\"\r\nabc\r\n00\r\n\r\n");
  EXPECT_EQ(hex.bodies, std::vector<std::string>{"abc"});
}

TEST(Conformance, MalformedChunksAre400) {
  for (std::string body : {
           "5\r\nhelloXX0\r\n\r\n",     // no CRLF after the data
           "5\nhello\r\n0\r\n\r\n",     // bare LF after the size
           "5\rhello\r\n0\r\n\r\n",     // bare CR after the size
           "-5\r\nhello\r\n0\r\n\r\n",  // sign
           "0x5\r\nhello\r\n0\r\n\r\n", // C hex
           "5 \r\nhello\r\n0\r\n\r\n",  // whitespace without extension
           "g\r\n",                     // not hex
           "\r\n",                      // no size at all
           "5;\r\nhello\r\n0\r\n\r\n",  // empty extension name
           "5\r\nhello\r\n0\r\nX : y\r\n\r\n",  // bad trailer name
           "5\r\nhello\r\n0\r\nX: a\rb\r\n\r\n",  // bare CR in a trailer
           "5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n",  // framing in a trailer
       }) {
    EXPECT_EQ(status_of(kChunkedPost + body), 400) << body;
  }
}

// Bounds: the body (413), the size's digits and the extensions (400), the
// trailer section (431); and no line waits for ever.
TEST(Conformance, ChunkedBounds) {
  Limits limits;
  limits.max_body = 100;
  EXPECT_EQ(status_of(kChunkedPost + "65\r\n", limits), 413);  // 101 in one chunk
  EXPECT_EQ(status_of(kChunkedPost + "40\r\n" + std::string(64, 'a') + "\r\n25\r\n", limits), 413);
  EXPECT_EQ(status_of(kChunkedPost + "64\r\n" + std::string(100, 'a') + "\r\n0\r\n\r\n", limits), 0);

  EXPECT_EQ(status_of(kChunkedPost + "00000000000000005\r\nhello\r\n0\r\n\r\n"), 400);  // 17 digits
  EXPECT_EQ(status_of(kChunkedPost + "10000000000000000\r\n"), 400);  // 2^64: overflow
  EXPECT_EQ(status_of(kChunkedPost + "ffffffffffffffff\r\n"), 413);
  // Over --max-body and over a bound of the line: the line's bound, however
  // the stream is cut (Beast alone says 413 when the line comes whole).
  EXPECT_EQ(status_of(kChunkedPost + "000000000000000000002029899507\r\nabc\r\n0\r\n\r\n"), 400);
  EXPECT_EQ(status_of(kChunkedPost + "a\r\n0123456789\r\nffffffff;" + std::string(1100, 'e') + "\r\n"),
            400);
  // An endless size or extension is cut off without waiting for its end.
  EXPECT_EQ(feed(kChunkedPost + std::string(100, '0')).error, 400);
  EXPECT_EQ(feed(kChunkedPost + "5;" + std::string(5000, 'e'), 1).error, 400);
  EXPECT_EQ(feed(kChunkedPost + "5;" + std::string(5000, 'e')).error, 400);

  // Extensions: 1 KiB in all per request.
  std::string ext = ";" + std::string(600, 'e');
  EXPECT_EQ(status_of(kChunkedPost + "1" + ext + "\r\na\r\n0\r\n\r\n"), 0);
  EXPECT_EQ(status_of(kChunkedPost + "1" + ext + "\r\na\r\n1" + ext + "\r\nb\r\n0\r\n\r\n"), 400);

  Limits small_header;
  small_header.max_header_bytes = 256;
  std::string trailers = "0\r\n";
  for (int i = 0; i < 50; ++i) trailers += "X-T: 0123456789\r\n";
  EXPECT_EQ(feed(kChunkedPost + trailers, 0, small_header).error, 431);
  EXPECT_EQ(feed(kChunkedPost + trailers, 1, small_header).error, 431);
}

// RFC 9112 §6.1: chunked must be the final coding, once (else 400); a coding
// we do not implement before it is a 501.
TEST(Conformance, TransferEncodingOtherThanChunkedLast) {
  for (std::string te : {"gzip", "identity", "chunked, gzip", "chunked, chunked", "xchunked",
                         "chunked;a=1", "chunked x", "\"chunked\"", ",", "chunked\x0b"}) {
    EXPECT_EQ(status_of(kPost + "Transfer-Encoding: " + te + "\r\n\r\n0\r\n\r\n"), 400) << te;
  }
  EXPECT_EQ(status_of(kPost + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400);
  EXPECT_EQ(status_of(kPost + "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n"), 400);
  for (std::string te : {"gzip, chunked", "deflate,chunked", "br , chunked", "x;q=1, chunked"}) {
    EXPECT_EQ(status_of(kPost + "Transfer-Encoding: " + te + "\r\n\r\n0\r\n\r\n"), 501) << te;
  }
  EXPECT_EQ(status_of(kPost + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"), 501);
  // Case, OWS and empty list elements do not matter.
  for (std::string te : {"Chunked", "CHUNKED", "\tchunked ", ", chunked", "chunked,"}) {
    EXPECT_EQ(status_of(kPost + "Transfer-Encoding: " + te + "\r\n\r\n0\r\n\r\n"), 0) << te;
  }
}

// RFC 9112 §6.1: Content-Length beside Transfer-Encoding is refused (a MAY;
// the other choice, chunked wins, keeps a smuggling door open behind a proxy
// that chose otherwise), and so is any Transfer-Encoding in HTTP/1.0. Every
// error closes the connection (SPEC §3), as §6.1 requires.
TEST(Conformance, TransferEncodingWithContentLengthOrInHttp10) {
  const std::string chunk = "5\r\nhello\r\n0\r\n\r\n";
  EXPECT_EQ(status_of(kPost + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk), 400);
  EXPECT_EQ(status_of(kPost + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" + chunk), 400);
  EXPECT_EQ(status_of(kPost + "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello"), 400);
  EXPECT_EQ(status_of("POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk), 400);
  EXPECT_EQ(status_of("POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" +
                      chunk),
            400);
}

// RFC 9110 §8.6: one Content-Length, one number.
TEST(Conformance, DuplicateContentLengthIs400) {
  EXPECT_EQ(status_of(kPost + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"), 400);
  EXPECT_EQ(status_of(kPost + "Content-Length: 5, 5\r\n\r\nhello"), 400);
  EXPECT_EQ(status_of(kPost + "Content-Length: +5\r\n\r\nhello"), 400);
  EXPECT_EQ(status_of(kPost + "Content-Length: 0x5\r\n\r\nhello"), 400);
  EXPECT_EQ(status_of(kPost + "Content-Length:  5 \r\n\r\nhello"), 0);  // OWS is not the value
}

// RFC 9112 §5.2: obs-fold is refused, not unfolded.
TEST(Conformance, ObsFoldIs400) {
  EXPECT_EQ(status_of(kPost + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n\tb\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\n Host: x\r\n\r\n"), 400);
}

// RFC 9110 §9.3.2: HEAD is a GET without content; a body it announces is
// still read (framing does not depend on the method).
TEST(Conformance, HeadIsParsedLikeGet) {
  Parsed p = feed_every_way("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                            "HEAD /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab" +
                            kHello);
  EXPECT_EQ(p.methods, (std::vector<std::string>{"HEAD", "HEAD", "GET"}));
  EXPECT_EQ(p.bodies, (std::vector<std::string>{"", "ab", ""}));
}

// The request smuggling classics, on one connection: what the parser sees
// must be what the bytes say, and the first doubt ends the connection.
TEST(Conformance, SmugglingClassicsEndInAnError) {
  const std::string smuggled = "GET /bytes/1 HTTP/1.1\r\nHost: x\r\n\r\n";
  // CL.TE and TE.CL.
  EXPECT_EQ(status_of(kPost + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG" +
                      smuggled),
            400);
  EXPECT_EQ(status_of(kPost + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n"),
            400);
  // TE.TE: obfuscated codings.
  for (std::string te : {"Transfer-Encoding: xchunked", "Transfer-Encoding : chunked",
                         "Transfer-Encoding: chunked\r\nTransfer-encoding: x",
                         "Transfer-Encoding:\tchunked\x01", "X: x\r\nTransfer-Encoding\r\n : chunked",
                         "Transfer-Encoding: identity, chunked, identity"}) {
    EXPECT_GE(status_of(kPost + te + "\r\nContent-Length: 4\r\n\r\n1\r\nA\r\n0\r\n\r\n" + smuggled),
              400)
        << te;
  }
}

}  // namespace
}  // namespace iomodels::http
