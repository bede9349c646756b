// libFuzzer target: the Session, the whole exchange of one connection, driven
// by a fake driver on a fake clock, as tests/unit/session_test.cpp drives it.
//
// Beyond "does not crash" it checks the contracts every model relies on:
//   - the session always ends: with the client's EOF after the input, it
//     reaches Close (no wait for nothing, no endless loop of steps);
//   - the shared scratch queue is empty whenever a step other than Write is
//     handed out, and after every sent() (another session uses it next);
//   - fed whole, byte by byte or in random pieces, and written in pieces of
//     any size, the session writes the same bytes (Date aside), closes the
//     same way and counts the same: the kernel splits streams anywhere, and
//     the 100 Continue, the early final status, the deadlines and the
//     lingering close must not depend on where.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>

#include "fuzz/fuzz_support.hpp"
#include "protocol/session.hpp"

namespace {

using namespace iomodels::http;

struct Outcome {
  std::string written;
  bool shut_down_write = false;
  SessionCounters counters;
};

bool same_counts(const SessionCounters& a, const SessionCounters& b) {
  return a.connections == b.connections && a.requests == b.requests &&
         a.bad_requests == b.bad_requests && a.header_timeouts == b.header_timeouts &&
         a.body_timeouts == b.body_timeouts && a.idle_timeouts == b.idle_timeouts &&
         a.send_timeouts == b.send_timeouts && a.resets == b.resets;
}

// The cached Date may tick between two passes. (An echoed body may hold
// "\r\nDate: " too, with or without a line end after it: it is rewritten
// the same way in every pass.)
std::string without_dates(std::string text) {
  for (std::size_t at = 0; (at = text.find("\r\nDate: ", at)) != std::string::npos; at += 9) {
    const std::size_t end = text.find("\r\n", at + 2);
    if (end == std::string::npos) break;
    text.replace(at, end - at, "\r\nDate: -");
  }
  return text;
}

// Feeds the input in the pieces next_size() chooses, then EOF; writes at
// most write_size() bytes per Write step; lets a deadline pass whenever the
// session waits for nothing but it; burns CPU at once.
template <typename NextSize, typename WriteSize>
Outcome drive(std::span<const char> data, const SessionConfig& config, NextSize next_size,
              WriteSize write_size) {
  Outcome out;
  SessionContext context(config);
  Clock::time_point now = Clock::time_point{} + std::chrono::hours(1);
  {
    Session session(context, now);
    std::size_t pos = 0;
    bool eof_given = false;
    for (int steps = 0;; ++steps) {
      CHECK(steps < 1'000'000);
      const Step step = session.next(now);
      CHECK(step.what == Do::Write || context.scratch.empty());
      if (step.what == Do::Close) break;
      switch (step.what) {
        case Do::Write: {
          iovec iov[16];
          const int count = session.gather(iov, 16);
          CHECK(count > 0);
          std::size_t taken = 0;
          const std::size_t cap = write_size();
          for (int i = 0; i < count && taken < cap; ++i) {
            const std::size_t n = std::min(iov[i].iov_len, cap - taken);
            out.written.append(static_cast<const char*>(iov[i].iov_base), n);
            taken += n;
          }
          CHECK(taken > 0);
          session.sent(taken);
          CHECK(context.scratch.empty());
          break;
        }
        case Do::BurnCpu:
          session.work_done(now);
          break;
        case Do::ShutdownWrite:
          CHECK(!session.has_output());
          out.shut_down_write = true;
          break;
        case Do::Wait:
          if (step.read && pos < data.size()) {
            const std::size_t piece = std::min(next_size(), data.size() - pos);
            session.received(data.subspan(pos, piece), now);
            pos += piece;
          } else if (step.read && !eof_given) {
            eof_given = true;
            session.end_of_input(now);
          } else {
            CHECK(step.deadline != kNoDeadline);  // else it would wait for ever
            CHECK(step.deadline >= now);
            now = step.deadline;
            session.expired(now);
          }
          break;
        case Do::Close:
          break;
      }
    }
    CHECK(!session.has_output());
  }
  CHECK(context.scratch.empty());
  out.counters = context.counters;
  out.written = without_dates(std::move(out.written));
  return out;
}

std::size_t whole() {
  return std::size_t(1) << 30;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  std::span<const char> data(reinterpret_cast<const char*>(bytes), size);

  // 1. Small limits and a small high-water mark: 413, 431, and the session
  //    that stops reading behind its output. Not compared between splits:
  //    where a limit trips may depend on where a read ended.
  SessionConfig small;
  small.limits = {.max_header_bytes = 256, .max_body = 4096};
  small.max_output_bytes = 1024;
  small.linger_bytes = 512;
  small.first_byte_timeout_ms = 500;
  small.send_timeout_ms = 1000;
  drive(data, small, whole, whole);
  drive(data, small, iomodels::fuzz::RandomPieces(data),
        [n = std::size_t(0)]() mutable { return ++n % 7 + 1; });

  // 2. Differential, with limits no input of -max_len reaches: whole and
  //    written whole; byte by byte and written 3 bytes at a time; random
  //    pieces written in pieces of 1 to 97.
  SessionConfig large;
  large.limits = {.max_header_bytes = 1 << 20, .max_body = 1 << 20};
  large.max_output_bytes = 4096;  // small still: reading stops and resumes
  const Outcome a = drive(data, large, whole, whole);
  const Outcome b = drive(
      data, large, [] { return std::size_t(1); }, [] { return std::size_t(3); });
  const Outcome c = drive(data, large, iomodels::fuzz::RandomPieces(data),
                          iomodels::fuzz::RandomPieces(data.subspan(size / 2)));
  for (const Outcome* other : {&b, &c}) {
    CHECK(other->written == a.written);
    CHECK(other->shut_down_write == a.shut_down_write);
    CHECK(same_counts(other->counters, a.counters));
  }
  return 0;
}
