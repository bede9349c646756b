#include "protocol/request_rules.hpp"

#include <array>

namespace iomodels::http::rules {
namespace {

constexpr bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
constexpr bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr bool is_unreserved(char c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
constexpr bool is_sub_delim(char c) {
  return std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos;
}
// RFC 9110 §5.6.2: tchar.
constexpr bool is_tchar(char c) {
  return is_alpha(c) || is_digit(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// One table, built at compile time: the bytes a request-target may hold
// besides "%", whose two hex digits are checked apart.
constexpr std::array<bool, 256> kTargetByte = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) {
    char ch = static_cast<char>(c);
    table[c] = is_unreserved(ch) || is_sub_delim(ch) || ch == ':' || ch == '@' || ch == '/' ||
               ch == '?' || ch == '[' || ch == ']';
  }
  return table;
}();

// "%" HEXDIG HEXDIG at s[i]; i is the "%".
bool pct_encoded_at(std::string_view s, std::size_t i) {
  return i + 2 < s.size() && is_hex(s[i + 1]) && is_hex(s[i + 2]);
}

bool valid_port(std::string_view port) {
  for (char c : port) {
    if (!is_digit(c)) return false;
  }
  return true;
}

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

}  // namespace

bool valid_target(std::string_view target) {
  for (std::size_t i = 0; i < target.size(); ++i) {
    const char c = target[i];
    if (c == '%') {
      if (!pct_encoded_at(target, i)) return false;
      i += 2;
    } else if (!kTargetByte[static_cast<unsigned char>(c)]) {
      return false;
    }
  }
  return !target.empty();
}

bool valid_host(std::string_view value) {
  std::string_view host = value;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    // IP-literal: an IPv6 address or IPvFuture; its inner grammar is left to
    // whoever uses the host, we only keep its bytes in the allowed set.
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : host.substr(1, close - 1)) {
      if (!(is_unreserved(c) || (is_sub_delim(c) && c != ',') || c == ':')) return false;
    }
    std::string_view after = host.substr(close + 1);
    if (after.empty()) return true;
    if (after.front() != ':') return false;
    return valid_port(after.substr(1));
  }
  if (auto colon = host.find(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
    if (!valid_port(port)) return false;
  }
  for (std::size_t i = 0; i < host.size(); ++i) {
    const char c = host[i];
    if (c == '%') {
      if (!pct_encoded_at(host, i)) return false;
      i += 2;
    } else if (!(is_unreserved(c) || (is_sub_delim(c) && c != ','))) {
      return false;
    }
  }
  return true;
}

bool valid_content_length(std::string_view value) {
  if (value.empty()) return false;
  for (char c : value) {
    if (!is_digit(c)) return false;
  }
  return true;
}

void TransferCodings::add(std::string_view field_value) {
  present_ = true;
  // RFC 9110 §5.6.1: a list; empty elements are allowed and ignored.
  while (true) {
    const std::size_t comma = field_value.find(',');
    std::string_view element = trim_ows(field_value.substr(0, comma));
    if (!element.empty()) {
      std::size_t name_end = 0;
      while (name_end < element.size() && is_tchar(element[name_end])) ++name_end;
      std::string_view name = element.substr(0, name_end);
      std::string_view rest = trim_ows(element.substr(name_end));
      // transfer-coding = token *( OWS ";" OWS transfer-parameter )
      if (name.empty() || (!rest.empty() && rest.front() != ';')) {
        malformed_ = true;
      } else if (iequals(name, "chunked")) {
        if (!rest.empty()) malformed_ = true;  // chunked takes no parameters
        ++chunked_;
        last_is_chunked_ = true;
      } else {
        other_coding_ = true;
        last_is_chunked_ = false;
      }
    }
    if (comma == std::string_view::npos) break;
    field_value.remove_prefix(comma + 1);
  }
}

int TransferCodings::status(int version_minor, bool has_content_length) const {
  if (!present_) return 0;
  // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty
  // framing, whatever else it says.
  if (version_minor == 0) return 400;
  // §6.1: chunked not last means the length cannot be known: 400, close.
  if (malformed_ || !last_is_chunked_ || chunked_ > 1) return 400;
  // §6.1 lets a server refuse Content-Length beside Transfer-Encoding; we do:
  // the two framings are the classic smuggling pair.
  if (has_content_length) return 400;
  // §6.1: a coding the server does not understand deserves 501.
  if (other_coding_) return 501;
  return 0;
}

Expectation expectation(std::string_view field_value) {
  Expectation asked = Expectation::None;
  // A list (RFC 9110 §5.6.1): empty elements are allowed and ignored.
  while (true) {
    const std::size_t comma = field_value.find(',');
    std::string_view element = trim_ows(field_value.substr(0, comma));
    if (!element.empty()) {
      if (!iequals(element, "100-continue")) return Expectation::Unknown;
      asked = Expectation::Continue;
    }
    if (comma == std::string_view::npos) return asked;
    field_value.remove_prefix(comma + 1);
  }
}

bool field_line_is_folded(const char* name, const char* end) {
  std::string_view rest(name, static_cast<std::size_t>(end - name));
  const std::size_t lf = rest.find('\n');
  return lf != std::string_view::npos && lf + 1 < rest.size() && is_ows(rest[lf + 1]);
}

bool header_decidable(std::string_view header, std::size_t& scanned, std::size_t limit) {
  if (header.size() >= limit) return true;
  for (std::size_t i = scanned; i < header.size(); ++i) {
    const char previous = i > 0 ? header[i - 1] : '\0';
    const auto c = static_cast<unsigned char>(header[i]);
    if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f) return true;  // a CTL
    if (previous == '\r' && header[i] != '\n') return true;  // bare CR
    if (header[i] == '\n') {
      if (previous != '\r') return true;                        // bare LF
      if (i >= 3 && header[i - 2] == '\n' && header[i - 3] == '\r') return true;  // CRLF CRLF
    }
  }
  scanned = header.size();
  return false;
}

int version_error_status(std::string_view header) {
  // Beast has accepted the method and the target, so the line is
  // "method SP target SP version ...".
  const std::size_t first = header.find(' ');
  if (first == std::string_view::npos) return 400;
  const std::size_t second = header.find(' ', first + 1);
  if (second == std::string_view::npos) return 400;
  std::string_view v = header.substr(second + 1);
  const bool shaped = v.size() >= 8 && v.substr(0, 5) == "HTTP/" && is_digit(v[5]) &&
                      v[6] == '.' && is_digit(v[7]);
  if (!shaped) return 400;
  v.remove_prefix(8);
  // Beast refuses 2.0 before the line's end has arrived.
  const bool line_ends = v.empty() || v == "\r" || v.substr(0, 2) == "\r\n";
  return line_ends ? 505 : 400;
}

int unfinished_chunk_line_status(std::string_view waiting, std::size_t max_trailer_bytes) {
  std::size_t start = waiting.substr(0, 2) == "\r\n" ? 2 : 0;
  std::size_t digits = 0;
  bool all_zero = true;
  while (start + digits < waiting.size() && is_hex(waiting[start + digits])) {
    all_zero = all_zero && waiting[start + digits] == '0';
    ++digits;
  }
  if (digits > kMaxChunkSizeDigits) return 400;
  const std::size_t line_end = waiting.find("\r\n", start + digits);
  const std::size_t line_max = start + kMaxChunkSizeDigits + kMaxChunkExtensionBytes;
  if (line_end == std::string_view::npos) return waiting.size() > line_max + 1 ? 400 : 0;
  // The same bound on a whole line, or a split stream could be refused where
  // the whole one waits for the last chunk's trailers.
  if (line_end > line_max) return 400;
  // A complete line is Beast's to judge, but for the last chunk's trailers,
  // which Beast would wait for without end.
  if (digits > 0 && all_zero) return trailer_section_status(waiting.size() - (line_end + 2), max_trailer_bytes);
  return 0;
}

int trailer_section_status(std::size_t bytes, std::size_t max_trailer_bytes) {
  return bytes > max_trailer_bytes ? 431 : 0;
}

std::size_t hex_digits_before(const char* begin, const char* end) {
  std::size_t count = 0;
  while (end > begin && is_hex(end[-1])) {
    --end;
    ++count;
  }
  return count;
}

}  // namespace iomodels::http::rules
