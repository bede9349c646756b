#include "protocol/body_pattern.hpp"

#include <array>

namespace iomodels::http {
namespace {

// 1074 periods: just under 64 KiB, so one iovec carries a large piece.
constexpr std::size_t kBlockSize = 61 * 1074;

const std::array<char, kBlockSize>& block() {
  static const std::array<char, kBlockSize> data = [] {
    std::array<char, kBlockSize> bytes{};
    for (std::size_t i = 0; i < kBlockSize; ++i) bytes[i] = pattern_byte(i);
    return bytes;
  }();
  return data;
}

}  // namespace

std::span<const char> pattern_block() {
  return {block().data(), block().size()};
}

bool check_pattern(std::span<const char> data, std::uint64_t offset) {
  std::size_t phase = offset % kPatternAlphabet.size();
  for (char c : data) {
    if (c != kPatternAlphabet[phase]) return false;
    if (++phase == kPatternAlphabet.size()) phase = 0;
  }
  return true;
}

}  // namespace iomodels::http
