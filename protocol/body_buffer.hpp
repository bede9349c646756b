// BodyBuffer: a request body, held as its bytes arrive.
//
// Small bodies live in a std::string. Past 64 KiB the bytes move to an
// anonymous mapping that grows with mremap(): the kernel moves page tables
// instead of copying, and pages count in the process's memory only once
// written. A std::string doubling through 16 KiB, 32 KiB, ... 8 MiB instead
// leaves its freed blocks in malloc's arenas when many threads grow bodies at
// once (glibc raises its mmap threshold to each freed block): 16 threads each
// holding 4 MiB of body measured +10 MiB of RSS per thread. Clearing a large
// body unmaps it, so a pooled or keep-alive parser keeps no body's memory.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace iomodels::http {

class BodyBuffer {
 public:
  BodyBuffer() = default;
  ~BodyBuffer();
  BodyBuffer(const BodyBuffer&) = delete;
  BodyBuffer& operator=(const BodyBuffer&) = delete;
  BodyBuffer(BodyBuffer&& other) noexcept;
  BodyBuffer& operator=(BodyBuffer&& other) noexcept;

  // Throws std::bad_alloc when the memory cannot be had, as std::string does.
  void append(std::string_view bytes);
  std::string_view view() const;
  std::size_t size() const { return mapped_ ? mapped_size_ : small_.size(); }
  // Empties the buffer; a mapping is unmapped, a small string grown past
  // `keep` bytes is freed.
  void clear(std::size_t keep);
  // Heap or mapped bytes held (address space; for a mapping, an upper bound
  // of the memory it uses).
  std::size_t capacity_bytes() const;

 private:
  void release_mapping();

  std::string small_;
  char* mapped_ = nullptr;
  std::size_t mapped_size_ = 0;
  std::size_t mapped_capacity_ = 0;
};

}  // namespace iomodels::http
