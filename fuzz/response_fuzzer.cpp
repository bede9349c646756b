// libFuzzer target: the load generator's ResponseParser.
//
// The input is what a (possibly hostile or broken) server sends. An optional
// first line "#N\n" says the request was GET /bytes/N, so the body check runs
// too; "#HEAD\n" says the requests were HEAD (answers have no body); seeds
// stay readable HTTP. Checked beyond "no crash":
//   - an interim response (1xx but 101) is never reported as the answer;
//   - feed() never claims more bytes than given; NeedMore takes them all (the
//     load generator's read loop would spin on a parser that stalls);
//   - whole, byte by byte and random pieces give the same responses, the same
//     body verdicts and the same error/no-error outcome;
//   - feed_eof() at the end is safe in every state.
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.hpp"
#include "loadgen/response_parser.hpp"

namespace {

using namespace iomodels::loadgen;

struct Seen {
  std::string responses;  // status, keep-alive, body size, body verdict per response
  bool error = false;
};

void record(Seen& seen, const Response& r) {
  // http-parser takes any 1-3 digit status ("HTTP/1.1 20 X"): not our check.
  CHECK(r.status >= 0 && r.status <= 999);
  CHECK(r.status < 100 || r.status >= 200 || r.status == 101);
  seen.responses += std::to_string(r.status) + (r.keep_alive ? " ka " : " close ") +
                    std::to_string(r.body_bytes) + (r.body_ok ? " ok\n" : " bad\n");
}

template <typename NextSize>
Seen run_pass(std::span<const char> data, std::optional<std::uint64_t> expected, bool head,
              NextSize next_size) {
  Seen seen;
  ResponseParser parser(expected, head);
  std::size_t pos = 0;
  while (pos < data.size()) {
    std::size_t piece = std::min(next_size(), data.size() - pos);
    std::span<const char> chunk = data.subspan(pos, piece);
    while (!chunk.empty()) {
      FeedResult r = parser.feed(chunk);
      CHECK(r.consumed <= chunk.size());
      if (r.status == ParseStatus::NeedMore) {
        CHECK(r.consumed == chunk.size());
        break;
      }
      if (r.status == ParseStatus::Error) {
        CHECK(!parser.error().empty());
        CHECK(parser.feed(chunk.subspan(r.consumed)).status == ParseStatus::Error ||
              chunk.size() == r.consumed);
        seen.error = true;
        return seen;
      }
      CHECK(!parser.in_progress());
      record(seen, parser.response());
      chunk = chunk.subspan(r.consumed);
    }
    pos += piece;
  }
  // The server closes: a body that runs to EOF completes here.
  // (On Error, http-parser reports 1 byte consumed of the empty input: the
  // load generator ignores consumed after feed_eof(), so only Complete is held
  // to 0.)
  FeedResult end = parser.feed_eof();
  CHECK(end.status == ParseStatus::Error || end.consumed == 0);
  if (end.status == ParseStatus::Complete) {
    record(seen, parser.response());
  } else if (end.status == ParseStatus::Error) {
    seen.error = true;
  }
  return seen;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(bytes), size);
  std::optional<std::uint64_t> expected;
  bool head = false;
  if (input.substr(0, 6) == "#HEAD\n") {
    head = true;
    input.remove_prefix(6);
  } else if (input.size() > 1 && input[0] == '#') {
    std::size_t eol = input.find('\n');
    if (eol != std::string_view::npos) {
      std::uint64_t n = 0;
      auto [end, ec] = std::from_chars(input.data() + 1, input.data() + eol, n);
      if (ec == std::errc{} && end == input.data() + eol) expected = n;
      input.remove_prefix(eol + 1);
    }
  }
  std::span<const char> data(input.data(), input.size());

  Seen whole = run_pass(data, expected, head, [] { return std::size_t(1) << 20; });
  Seen single = run_pass(data, expected, head, [] { return std::size_t(1); });
  Seen pieces = run_pass(data, expected, head, iomodels::fuzz::RandomPieces(data));
  CHECK(whole.responses == single.responses && whole.error == single.error);
  CHECK(whole.responses == pieces.responses && whole.error == pieces.error);
  return 0;
}
