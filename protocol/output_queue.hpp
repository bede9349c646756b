// OutputQueue: the bytes a connection still owes its client.
//
// Responses are appended whole (head and body) and written with as few
// writev() calls as the socket allows; a partial write just leaves the rest
// queued. The body of GET /bytes/{n} is queued as a length, not as bytes: its
// iovecs point into the shared read-only pattern block, so a client that asks
// for many large bodies and never reads costs the server a few words each,
// not the bodies themselves.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace iomodels::http {

class OutputQueue {
 public:
  void append(std::string_view bytes);
  void append_pattern(std::uint64_t length);

  bool empty() const { return pending_ == 0; }
  // Bytes still to send, pattern bodies included.
  std::uint64_t pending() const { return pending_; }

  // Fills up to max_iov iovecs with the next bytes to send, in order;
  // returns how many it filled.
  int gather(iovec* iov, int max_iov) const;
  // Drops the first n bytes, which the socket accepted.
  void consume(std::size_t n);

  // Frees the buffers' capacity once everything is sent, so that an idle
  // connection holds no output memory.
  void release_memory();

 private:
  // A chunk is some bytes, then optionally a pattern body of pattern_len.
  struct Chunk {
    std::string bytes;
    std::uint64_t pattern_len = 0;
    std::uint64_t size() const { return bytes.size() + pattern_len; }
  };
  std::vector<Chunk> chunks_;
  std::size_t head_ = 0;         // first chunk not fully sent
  std::uint64_t head_sent_ = 0;  // bytes of chunks_[head_] already sent
  std::uint64_t pending_ = 0;
};

}  // namespace iomodels::http
