// The deterministic body of GET /bytes/{n}: byte i of every such body is
// pattern_byte(i). The period is 61 bytes, a prime, so a body that lost,
// doubled or reordered a chunk of any power-of-two size no longer matches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace iomodels::http {

inline constexpr std::string_view kPatternAlphabet =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxy";
static_assert(kPatternAlphabet.size() == 61);

inline char pattern_byte(std::uint64_t offset) {
  return kPatternAlphabet[offset % kPatternAlphabet.size()];
}

// A read-only block of the pattern starting at body offset 0, whose length is
// a multiple of the period: the bytes at body offset o are found at
// pattern_block() + o % 61, so a body of any length is written from this one
// block without ever being built in memory.
std::span<const char> pattern_block();

// True if data holds exactly the pattern bytes from body offset `offset` on.
bool check_pattern(std::span<const char> data, std::uint64_t offset);

}  // namespace iomodels::http
