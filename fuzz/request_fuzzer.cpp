// libFuzzer target: RequestParser + route() + serialize() + OutputQueue, the
// whole path from the bytes a client sends to the bytes a server writes.
//
// Beyond "does not crash" (ASan/UBSan catch memory and arithmetic faults) it
// checks the contracts the servers rely on:
//   - parse() never claims more bytes than it was given, and NeedMore means
//     every byte was taken (a server that re-feeds the rest would spin);
//   - an error is one of the SPEC §3 statuses;
//   - feeding the same bytes whole, byte by byte, or in random pieces gives
//     the same requests (the kernel splits a stream wherever it likes);
//   - every routed answer serializes to a well-formed response whose
//     Content-Length matches the body that OutputQueue hands to writev().
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "protocol/body_pattern.hpp"
#include "protocol/output_queue.hpp"
#include "protocol/request_parser.hpp"
#include "protocol/router.hpp"

namespace {

using namespace iomodels::http;

// What a pass saw, compared between ways of splitting the input.
struct Seen {
  std::string requests;  // one line per request: method, target, body size, keep-alive
  bool error = false;
};

// Sends the response through OutputQueue as a server would, with writes of
// varying size, and checks the bytes that come out.
void check_serialized(const Response& response, const Request& request) {
  OutputQueue out;
  serialize(response, "iomodels-fuzz", out);
  const std::uint64_t total = out.pending();

  std::string head;
  std::uint64_t body_seen = 0;
  bool in_body = false;
  std::size_t write_size = 1;
  iovec iov[8];
  while (!out.empty()) {
    int count = out.gather(iov, 8);
    CHECK(count > 0);
    std::size_t taken = 0;
    for (int i = 0; i < count && taken < write_size; ++i) {
      std::size_t n = std::min(iov[i].iov_len, write_size - taken);
      CHECK(n > 0 || iov[i].iov_len == 0);
      const char* p = static_cast<const char*>(iov[i].iov_base);
      for (std::size_t k = 0; k < n; ++k) {
        if (!in_body) {
          head.push_back(p[k]);
          if (head.size() >= 4 && head.compare(head.size() - 4, 4, "\r\n\r\n") == 0) in_body = true;
          continue;
        }
        if (response.pattern) {
          CHECK(p[k] == pattern_byte(body_seen));
        } else {
          CHECK(body_seen < response.body.size() && p[k] == response.body[body_seen]);
        }
        ++body_seen;
      }
      taken += n;
    }
    out.consume(taken);
    // Partial writes of 1, 3, 9, ... bytes, as a full socket buffer gives.
    write_size = write_size * 3 % 70001 + 1;
  }
  CHECK(out.pending() == 0);
  CHECK(in_body);
  CHECK(head.size() + body_seen == total);

  const std::uint64_t length = response.pattern ? response.pattern_bytes : response.body.size();
  CHECK(body_seen == length);
  CHECK(head.rfind("HTTP/1.1 ", 0) == 0);
  std::string want = "\r\nContent-Length: " + std::to_string(length) + "\r\n";
  CHECK(head.find(want) != std::string::npos);
  CHECK(head.find("\r\nServer: iomodels-fuzz\r\n") != std::string::npos);
  if (response.close) CHECK(head.find("\r\nConnection: close\r\n") != std::string::npos);
  if (response.status == 405) CHECK(head.find("\r\nAllow: ") != std::string::npos);
  if (request.method == Method::Post && response.status == 200)
    CHECK(response.body == request.body);
}

bool known_status(int status) {
  switch (status) {
    case 200:
    case 400:
    case 404:
    case 405:
    case 411:
    case 413:
    case 431:
    case 501:
    case 505:
      return true;
    default:
      return false;
  }
}

// Feeds data in the pieces next_size() chooses, answering each request.
template <typename NextSize>
Seen run_pass(std::span<const char> data, const Limits& limits, NextSize next_size, bool answer) {
  Seen seen;
  RequestParser parser(limits);
  std::size_t pos = 0;
  while (pos < data.size()) {
    std::size_t piece = std::min(next_size(), data.size() - pos);
    std::span<const char> chunk = data.subspan(pos, piece);
    // The inner loop is a server's: parse, answer, re-feed the rest.
    while (true) {
      ParseResult r = parser.parse(chunk);
      CHECK(r.consumed <= chunk.size());
      if (r.status == ParseStatus::NeedMore) {
        CHECK(r.consumed == chunk.size());
        break;
      }
      if (r.status == ParseStatus::Error) {
        int status = parser.error_status();
        CHECK(status == 400 || status == 413 || status == 431 || status == 501 || status == 505);
        CHECK(!parser.error_reason().empty());
        if (answer) {
          Response e = error_response(status);
          CHECK(e.close && e.status == status);
          check_serialized(e, Request{});
        }
        // A parser in error stays in error until reset().
        CHECK(parser.parse(chunk.subspan(r.consumed)).status == ParseStatus::Error);
        seen.error = true;
        return seen;
      }
      const Request& req = parser.request();
      CHECK(req.body.size() <= limits.max_body);
      CHECK(req.version_major == 1 && req.version_minor <= 1);
      seen.requests += std::string(req.method_name) + ' ' + std::string(req.target) + ' ' +
                       std::to_string(req.body.size()) + (req.keep_alive ? " ka\n" : " close\n");
      if (answer) {
        Plan plan = route(req, limits);
        CHECK(known_status(plan.response.status));
        if (plan.response.status >= 400) CHECK(plan.response.close);
        if (plan.response.pattern) CHECK(plan.response.pattern_bytes <= limits.max_body);
        CHECK(plan.cpu_us <= kMaxCpuUs && plan.sleep_ms <= kMaxSleepMs);
        check_serialized(plan.response, req);
      }
      chunk = chunk.subspan(r.consumed);
      if (chunk.empty()) {
        // Let the parser start the next request even with nothing new, as a
        // server does after answering.
        CHECK(parser.parse(chunk).status == ParseStatus::NeedMore);
        break;
      }
    }
    pos += piece;
  }
  return seen;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  std::span<const char> data(reinterpret_cast<const char*>(bytes), size);

  // 1. Small limits, answered: the 413/431 paths and everything the router
  //    and serializer do with what gets through.
  Limits small{.max_header_bytes = 256, .max_body = 4096};
  run_pass(
      data, small, [] { return std::size_t(1) << 20; }, true);

  // 2. Differential: whole, byte by byte, random pieces. The limits are above
  //    what any input of -max_len can reach, because where exactly a limit
  //    trips may legitimately depend on where a read ended.
  Limits large{.max_header_bytes = 1 << 20, .max_body = 1 << 20};
  Seen whole = run_pass(
      data, large, [] { return std::size_t(1) << 20; }, false);
  Seen single = run_pass(
      data, large, [] { return std::size_t(1); }, false);
  Seen pieces = run_pass(data, large, iomodels::fuzz::RandomPieces(data), false);
  CHECK(whole.requests == single.requests && whole.error == single.error);
  CHECK(whole.requests == pieces.requests && whole.error == pieces.error);
  return 0;
}
