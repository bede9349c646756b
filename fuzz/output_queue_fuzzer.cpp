// libFuzzer target: OutputQueue against a plain std::string model.
//
// The input is a little program: each byte picks an operation (append bytes,
// append a pattern body, write some bytes, release memory) and the next bytes
// its size. Whatever the order and however partial the writes, the bytes that
// gather() hands out must be exactly the model's, in order, and pending()
// must count them; a server's writev() loop depends on nothing else.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_support.hpp"
#include "protocol/body_pattern.hpp"
#include "protocol/output_queue.hpp"

namespace {

// Longer than two pattern blocks (65514 bytes each), so bodies span blocks.
constexpr std::uint32_t kMaxPattern = 140'000;

// The expected bytes of a pattern body, built once: the model appends from it.
const std::string& pattern_text() {
  static const std::string text = [] {
    std::string t(kMaxPattern, '\0');
    for (std::uint32_t i = 0; i < kMaxPattern; ++i) t[i] = iomodels::http::pattern_byte(i);
    return t;
  }();
  return text;
}

struct Reader {
  const std::uint8_t* p;
  std::size_t left;
  std::uint32_t next(int bytes) {
    std::uint32_t v = 0;
    for (int i = 0; i < bytes && left > 0; ++i, --left) v = v << 8 | *p++;
    return v;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using iomodels::http::OutputQueue;
  Reader in{data, size};
  OutputQueue queue;
  std::string model;  // what the queue still owes, byte for byte
  std::uint64_t stamp = 0;
  iovec iov[16];

  while (in.left > 0) {
    switch (in.next(1) % 5) {
      case 0: {  // append some bytes (distinct, so a reorder shows)
        std::string bytes(in.next(1) % 200, '\0');
        for (char& c : bytes) c = static_cast<char>('a' + stamp++ % 26);
        queue.append(bytes);
        model += bytes;
        break;
      }
      case 1: {  // append a pattern body, up to ~3 pattern blocks
        std::uint32_t length = in.next(3) % kMaxPattern;
        queue.append_pattern(length);
        model.append(pattern_text(), 0, length);
        break;
      }
      case 2:
      case 3: {  // a write that the socket accepts only partly
        int max_iov = static_cast<int>(in.next(1) % 16) + 1;
        std::size_t budget = in.next(3);
        int count = queue.gather(iov, max_iov);
        CHECK(count >= 0 && count <= max_iov);
        CHECK((count == 0) == queue.empty());
        std::size_t offered = 0, taken = 0;
        for (int i = 0; i < count; ++i) {
          CHECK(iov[i].iov_len > 0);
          std::string_view piece(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
          CHECK(offered + piece.size() <= model.size());
          CHECK(model.compare(offered, piece.size(), piece) == 0);
          offered += piece.size();
        }
        taken = std::min(offered, budget);
        queue.consume(taken);
        model.erase(0, taken);
        break;
      }
      case 4:
        queue.release_memory();
        break;
    }
    CHECK(queue.pending() == model.size());
    CHECK(queue.empty() == model.empty());
  }
  return 0;
}
