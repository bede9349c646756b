// The checks of RFC 9110/9112 that a server owes its users and that
// Boost.Beast's basic_parser leaves to them: which bytes a request-target may
// hold, what a Host value is, how a Transfer-Encoding list frames a request,
// obs-fold, and the bounds on a chunk line. Pure functions of the bytes, so
// that request_parser.cpp stays about driving the parser, and each rule can be
// tested alone. docs/hostile.md tabulates the rules and their tests.
#pragma once

#include <cstddef>
#include <string_view>

namespace iomodels::http::rules {

// RFC 9112 §3.2 and RFC 3986 §2: a request-target is made of unreserved,
// sub-delims, ":", "@", "/", "?", "%" (and "[" "]" of an IP literal) only.
// CTLs, spaces, obs-text (>= 0x80) and the characters a URI never holds
// ("<", ">", '"', "\", "^", "`", "{", "|", "}", "#") are a 400.
bool valid_target(std::string_view target);

// RFC 9112 §3.2, RFC 3986 §3.2.2: Host = uri-host [ ":" port ]. An empty
// value is valid (a client with no authority sends one). A comma is refused
// although reg-name allows it: it is what two Host lines joined look like.
bool valid_host(std::string_view value);

// Content-Length as one field line: 1*DIGIT. Beast also takes the list
// "5, 5" (RFC 9110 §8.6 allows either); a server behind a proxy that reads
// it otherwise would be open to smuggling, so we take one number only.
bool valid_content_length(std::string_view value);

// The Transfer-Encoding field lines of one request, folded into what RFC
// 9112 §6.1 needs to decide: is chunked there, once, and last.
class TransferCodings {
 public:
  void add(std::string_view field_value);
  bool present() const { return present_; }
  // 0 when the request is framed by chunked alone; 400 when its framing is
  // faulty (chunked not last or twice, a malformed list, an HTTP/1.0 request,
  // or Content-Length beside it); 501 when it is chunked after a coding we do
  // not implement (gzip, ...).
  int status(int version_minor, bool has_content_length) const;

 private:
  bool present_ = false;
  bool malformed_ = false;
  bool last_is_chunked_ = false;
  int chunked_ = 0;
  bool other_coding_ = false;
};

// RFC 9110 §10.1.1: what an Expect field value (its lines joined by ", ")
// asks of the server. "100-continue", case-insensitive and without
// parameters, is the only expectation defined; anything else in the list is
// one we cannot meet (417). An empty list asks nothing.
enum class Expectation { None, Continue, Unknown };
Expectation expectation(std::string_view field_value);

// RFC 9112 §5.2: a field line followed by a line that starts with a space or
// a tab is folded (obs-fold). `name` is the first byte of the field line, and
// its CRLF and the byte after it lie before `end`.
bool field_line_is_folded(const char* name, const char* end);

// Whether a header section that arrived in pieces can be decided on yet: its
// empty line has arrived, or a CR or LF outside a CRLF, or a CTL (errors
// wherever they stand), or `limit` bytes. Until then Beast is not given it, so that its
// verdict is the one it gives on the whole section, wherever the stream was
// cut. `scanned` is how far an earlier call looked; it is updated.
bool header_decidable(std::string_view header, std::size_t& scanned, std::size_t limit);

// After Beast refused a version: 505 for a well-formed "HTTP/d.d" that is not
// 1.0 or 1.1, 400 for anything else. `header` starts at the request line.
int version_error_status(std::string_view header);

// Chunk lines: at most 16 hex digits for a size (2^64 - 1; Beast takes any
// number of leading zeros), and at most this many bytes of chunk extensions
// in a whole request (RFC 9112 §7.1.1 asks for a limit and a 4xx).
inline constexpr std::size_t kMaxChunkSizeDigits = 16;
inline constexpr std::size_t kMaxChunkExtensionBytes = 1024;

// Bytes waiting for the end of a chunk line (a CRLF ending the previous
// chunk's data may come first): 0 while they may still become a valid line,
// 400 when the size has too many digits or the line is longer than any valid
// one, 431 when the trailer section of the last chunk outgrows
// `max_trailer_bytes`.
int unfinished_chunk_line_status(std::string_view waiting, std::size_t max_trailer_bytes);

// The trailer section (its field lines and the final CRLF) counts against the
// same limit as the header section: 431 past it.
int trailer_section_status(std::size_t bytes, std::size_t max_trailer_bytes);

// The number of hex digits just before `end`, looking no further back than
// `begin`: the size of a chunk whose extensions start at `end`.
std::size_t hex_digits_before(const char* begin, const char* end);

}  // namespace iomodels::http::rules
