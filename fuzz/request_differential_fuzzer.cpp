// Differential fuzz target: our RequestParser against a bare Boost.Beast
// basic_parser on the same bytes. Framing is what request smuggling lives
// on, so both must agree on it: which requests are accepted, where each one
// ends, its method, target, keep-alive and body bytes, and where the input is
// refused or left incomplete. Our parser is Beast plus the rules of
// protocol/request_rules.hpp, so it may refuse more than Beast does, but
// only for a reason on the short list of deliberate differences
// (docs/parser-choice.md, "Where we differ from Beast"); it may never accept
// what Beast refuses, nor frame a request otherwise.
//
// The two differences on the other side are applied to Beast's verdict here:
// we skip empty lines before a request line (RFC 9112 §2.2; Beast refuses
// them), and we judge a header section only once it is decidable.
#include <boost/beast/http/basic_parser.hpp>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "protocol/request_parser.hpp"
#include "protocol/request_rules.hpp"

namespace {

namespace bhttp = boost::beast::http;
using boost::beast::error_code;
using iomodels::http::Limits;
using iomodels::http::ParseStatus;
using iomodels::http::RequestParser;

constexpr Limits kLimits{.max_header_bytes = 1024, .max_body = 64 * 1024};

struct Framed {
  std::size_t end = 0;  // offset in the input just past the request
  std::string method, target, body;
  bool keep_alive = false;
  bool operator==(const Framed&) const = default;
};

enum class Outcome { AllConsumed, Incomplete, Refused };

struct Verdict {
  std::vector<Framed> requests;
  Outcome outcome = Outcome::AllConsumed;
  std::string_view reason;  // ours only, when refused
};

class Oracle final : public bhttp::basic_parser<true> {
 public:
  Oracle() {
    header_limit(static_cast<std::uint32_t>(kLimits.max_header_bytes));
    body_limit(kLimits.max_body);
    eager(true);
  }
  Framed framed;

 private:
  void on_request_impl(bhttp::verb, boost::beast::string_view method, boost::beast::string_view target,
                       int, error_code&) override {
    framed.method.assign(method.data(), method.size());
    framed.target.assign(target.data(), target.size());
  }
  void on_response_impl(int, boost::beast::string_view, int, error_code&) override {}
  void on_field_impl(bhttp::field, boost::beast::string_view, boost::beast::string_view,
                     error_code&) override {}
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(boost::beast::string_view b, error_code&) override {
    framed.body.append(b.data(), b.size());
    return b.size();
  }
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view b, error_code&) override {
    framed.body.append(b.data(), b.size());
    return b.size();
  }
  void on_finish_impl(error_code&) override {}
};

std::size_t skip_empty_lines(std::string_view in, std::size_t pos) {
  while (in.size() - pos >= 2 && in[pos] == '\r' && in[pos + 1] == '\n') pos += 2;
  return pos;
}

Verdict beast(std::string_view in) {
  Verdict v;
  std::size_t pos = 0;
  // A lone CR at the end may still become an empty line: nothing started.
  while ((pos = skip_empty_lines(in, pos)) < in.size() && in.substr(pos) != "\r") {
    Oracle p;
    error_code ec;
    const std::size_t used = p.put(boost::asio::const_buffer(in.data() + pos, in.size() - pos), ec);
    if (!p.is_done()) {
      v.outcome = !ec || ec == bhttp::error::need_more ? Outcome::Incomplete : Outcome::Refused;
      // We judge a header section only once it is decidable (its empty line,
      // a bare CR or LF, or the limit), where Beast may refuse a bad byte at
      // once: the same verdict, later.
      std::size_t scanned = 0;
      if (v.outcome == Outcome::Refused && !p.is_header_done() &&
          !iomodels::http::rules::header_decidable(in.substr(pos), scanned, kLimits.max_header_bytes)) {
        v.outcome = Outcome::Incomplete;
      }
      return v;
    }
    pos += used;
    p.framed.end = pos;
    p.framed.keep_alive = p.keep_alive();
    v.requests.push_back(std::move(p.framed));
  }
  return v;
}

// Ours, fed in pieces: `pieces` returns the size of the next one.
template <typename Pieces>
Verdict ours(std::string_view in, Pieces pieces) {
  Verdict v;
  RequestParser parser(kLimits);
  std::size_t pos = 0;
  while (pos < in.size()) {
    std::size_t len = std::min(pieces(), in.size() - pos);
    std::string_view data = in.substr(pos, len);
    pos += len;
    while (!data.empty()) {
      auto r = parser.parse(std::span<const char>(data.data(), data.size()));
      CHECK(r.consumed <= data.size());
      if (r.status == ParseStatus::NeedMore) CHECK(r.consumed == data.size());
      const std::size_t at = pos - data.size() + r.consumed;  // offset just past what was used
      data.remove_prefix(r.consumed);
      if (r.status == ParseStatus::Error) {
        v.outcome = Outcome::Refused;
        v.reason = parser.error_reason();
        return v;
      }
      if (r.status == ParseStatus::NeedMore) break;
      const auto& req = parser.request();
      v.requests.push_back({at, std::string(req.method_name), std::string(req.target),
                            std::string(req.body), req.keep_alive});
    }
  }
  v.outcome = parser.in_progress() ? Outcome::Incomplete : Outcome::AllConsumed;
  return v;
}

// The deliberate differences: reasons for which we refuse what Beast takes
// (or waits on). Beast's own refusals come out as "malformed request" and
// are never one of them.
const std::set<std::string_view> kDeliberate = {
    "invalid byte in the request-target",  // RFC 3986 characters only
    "more than one Host", "invalid Host", "HTTP/1.1 without Host",  // RFC 9112 §3.2
    "more than one Content-Length", "invalid Content-Length",       // one number
    "invalid Transfer-Encoding", "transfer coding not implemented", // RFC 9112 §6.1
    "obs-fold in a field line",                                     // RFC 9112 §5.2
    "chunk size with too many digits", "chunk extensions too long", "chunk line too long",
    "trailer section too large",
    "header section too large",  // the whole section; Beast bounds its parts apart
};

// The header section starting at `from` (empty lines skipped) is longer than
// the limit: Beast bounds the request line and the field lines each by it.
// A section still incomplete at the limit is over it too: its end is yet to
// come. (The first long run of this target found the oracle saying "not
// over" for a section cut off at exactly the limit, which we rightly refuse.)
bool header_section_over_limit(std::string_view in, std::size_t from) {
  const std::size_t start = skip_empty_lines(in, from);
  const std::size_t end = in.find("\r\n\r\n", start);
  const std::size_t limit =
      kLimits.max_header_bytes - std::min(start - from, kLimits.max_header_bytes);
  if (start - from >= kLimits.max_header_bytes) return true;
  if (end == std::string_view::npos) return in.size() - start >= limit;
  return end + 4 - start > limit;
}

void compare(std::string_view in, const Verdict& b, const Verdict& o) {
  const std::size_t common = std::min(b.requests.size(), o.requests.size());
  for (std::size_t i = 0; i < common; ++i) CHECK(o.requests[i] == b.requests[i]);
  // We never accept more than Beast, nor go on where Beast stopped.
  CHECK(o.requests.size() <= b.requests.size());
  if (o.requests.size() == b.requests.size()) {
    if (o.outcome == b.outcome) return;
    // Beast waits, we refused: only for a deliberate reason.
    CHECK(b.outcome == Outcome::Incomplete && o.outcome == Outcome::Refused);
  } else {
    // Beast accepted request k; we refused it, only for a deliberate reason.
    CHECK(o.outcome == Outcome::Refused);
  }
  CHECK(kDeliberate.count(o.reason) == 1);
  if (o.reason == "header section too large") {
    const std::size_t from = o.requests.empty() ? 0 : o.requests.back().end;
    CHECK(header_section_over_limit(in, from));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const Verdict b = beast(in);
  const Verdict whole = ours(in, [] { return std::size_t(-1); });
  compare(in, b, whole);
  // And the same verdict however the stream is cut.
  iomodels::fuzz::RandomPieces random({in.data(), in.size()});
  const Verdict split = ours(in, random);
  CHECK(split.requests == whole.requests);
  CHECK(split.outcome == whole.outcome);
  return 0;
}
