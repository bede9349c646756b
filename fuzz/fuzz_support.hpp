// What the fuzz targets share: CHECK, and the random piece sizes in which the
// differential passes feed an input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

namespace iomodels::fuzz {

// A broken contract aborts, which libFuzzer reports as a crash and saves the
// input that broke it.
[[noreturn]] inline void contract_broken(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: contract broken: %s\n", file, line, what);
  std::abort();
}

// Piece sizes of 1 to 97 bytes, drawn (xorshift) from a seed hashed (FNV-1a)
// from the input itself, so that a saved crash input replays the same split.
class RandomPieces {
 public:
  explicit RandomPieces(std::span<const char> data) {
    for (char c : data) state_ = (state_ ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    state_ |= 1;
  }
  std::size_t operator()() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return static_cast<std::size_t>(state_ % 97 + 1);
  }

 private:
  std::uint64_t state_ = 1469598103934665603ull;
};

}  // namespace iomodels::fuzz

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) ::iomodels::fuzz::contract_broken(__FILE__, __LINE__, #cond); \
  } while (0)
