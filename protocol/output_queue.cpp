#include "protocol/output_queue.hpp"

#include <algorithm>

#include "protocol/body_pattern.hpp"

namespace iomodels::http {

void OutputQueue::append(std::string_view bytes) {
  if (bytes.empty()) return;
  // Coalesce into the last chunk unless a pattern body ends it: pipelined
  // responses then leave in one contiguous buffer.
  if (chunks_.empty() || chunks_.back().pattern_len != 0) chunks_.emplace_back();
  chunks_.back().bytes.append(bytes);
  pending_ += bytes.size();
}

void OutputQueue::append_pattern(std::uint64_t length) {
  if (length == 0) return;
  if (chunks_.empty() || chunks_.back().pattern_len != 0) chunks_.emplace_back();
  chunks_.back().pattern_len = length;
  pending_ += length;
}

int OutputQueue::gather(iovec* iov, int max_iov) const {
  const std::span<const char> block = pattern_block();
  const std::size_t period = kPatternAlphabet.size();
  int count = 0;
  std::uint64_t skip = head_sent_;
  for (std::size_t i = head_; i < chunks_.size() && count < max_iov; ++i) {
    const Chunk& chunk = chunks_[i];
    if (skip < chunk.bytes.size()) {
      iov[count++] = {const_cast<char*>(chunk.bytes.data()) + skip, chunk.bytes.size() - skip};
      skip = 0;
    } else {
      skip -= chunk.bytes.size();
    }
    // The pattern body, in pieces of at most one block, each starting at the
    // right phase of the 61-byte period.
    std::uint64_t offset = skip;
    while (offset < chunk.pattern_len && count < max_iov) {
      std::size_t phase = offset % period;
      std::uint64_t len = std::min<std::uint64_t>(chunk.pattern_len - offset, block.size() - phase);
      iov[count++] = {const_cast<char*>(block.data()) + phase, static_cast<std::size_t>(len)};
      offset += len;
    }
    skip = 0;
  }
  return count;
}

void OutputQueue::consume(std::size_t n) {
  pending_ -= n;
  std::uint64_t left = n;
  while (left > 0 && head_ < chunks_.size()) {
    std::uint64_t rest = chunks_[head_].size() - head_sent_;
    if (left < rest) {
      head_sent_ += left;
      return;
    }
    left -= rest;
    ++head_;
    head_sent_ = 0;
  }
  if (head_ == chunks_.size()) {
    // Everything sent: keep the first chunk's buffer for the next response,
    // which saves an allocation per request on a busy connection.
    chunks_.resize(std::min<std::size_t>(chunks_.size(), 1));
    if (!chunks_.empty()) {
      chunks_[0].bytes.clear();
      chunks_[0].pattern_len = 0;
    }
    head_ = 0;
    head_sent_ = 0;
  }
}

void OutputQueue::release_memory() {
  if (pending_ != 0) return;
  std::vector<Chunk>().swap(chunks_);
  head_ = 0;
  head_sent_ = 0;
}

}  // namespace iomodels::http
