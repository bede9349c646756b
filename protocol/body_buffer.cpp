#include "protocol/body_buffer.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

namespace iomodels::http {
namespace {

constexpr std::size_t kSmallMax = 64 * 1024;

std::size_t round_to_pages(std::size_t n) {
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}

// A larger mapping holding the first `used` bytes of `old` (nullptr: none).
// mremap moves the pages without copying them. ThreadSanitizer does not
// intercept mremap (google/sanitizers#1099): the moved range keeps the
// shadow of whatever was mapped there before, and a buffer that lands where
// another thread's body once lay is reported as a race with it. Under TSan
// the buffer grows by mmap, copy and munmap instead, which TSan sees.
void* grow_mapping(void* old, std::size_t old_capacity, std::size_t used, std::size_t capacity) {
#if defined(__SANITIZE_THREAD__)
  constexpr bool kMremap = false;
#elif defined(__has_feature)
  constexpr bool kMremap = !__has_feature(thread_sanitizer);
#else
  constexpr bool kMremap = true;
#endif
  if (old && kMremap) return ::mremap(old, old_capacity, capacity, MREMAP_MAYMOVE);
  void* grown =
      ::mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (old && grown != MAP_FAILED) {
    std::memcpy(grown, old, used);
    ::munmap(old, old_capacity);
  }
  return grown;
}

}  // namespace

BodyBuffer::~BodyBuffer() {
  release_mapping();
}

BodyBuffer::BodyBuffer(BodyBuffer&& other) noexcept
    : small_(std::move(other.small_)),
      mapped_(std::exchange(other.mapped_, nullptr)),
      mapped_size_(std::exchange(other.mapped_size_, 0)),
      mapped_capacity_(std::exchange(other.mapped_capacity_, 0)) {}

BodyBuffer& BodyBuffer::operator=(BodyBuffer&& other) noexcept {
  if (this != &other) {
    release_mapping();
    small_ = std::move(other.small_);
    mapped_ = std::exchange(other.mapped_, nullptr);
    mapped_size_ = std::exchange(other.mapped_size_, 0);
    mapped_capacity_ = std::exchange(other.mapped_capacity_, 0);
  }
  return *this;
}

void BodyBuffer::append(std::string_view bytes) {
  if (!mapped_ && small_.size() + bytes.size() <= kSmallMax) {
    small_.append(bytes);
    return;
  }
  const std::size_t needed = size() + bytes.size();
  if (needed > mapped_capacity_) {
    // Address space doubles (few mremap calls); memory follows the bytes.
    const std::size_t capacity = round_to_pages(std::max(needed, 2 * std::max(mapped_capacity_, kSmallMax)));
    void* grown = grow_mapping(mapped_, mapped_capacity_, mapped_size_, capacity);
    if (grown == MAP_FAILED) throw std::bad_alloc();
    if (!mapped_) {
      std::memcpy(grown, small_.data(), small_.size());
      mapped_size_ = small_.size();
      std::string().swap(small_);
    }
    mapped_ = static_cast<char*>(grown);
    mapped_capacity_ = capacity;
  }
  std::memcpy(mapped_ + mapped_size_, bytes.data(), bytes.size());
  mapped_size_ += bytes.size();
}

std::string_view BodyBuffer::view() const {
  return mapped_ ? std::string_view(mapped_, mapped_size_) : std::string_view(small_);
}

void BodyBuffer::clear(std::size_t keep) {
  release_mapping();
  if (small_.capacity() > keep) {
    std::string().swap(small_);
  } else {
    small_.clear();
  }
}

std::size_t BodyBuffer::capacity_bytes() const {
  return mapped_capacity_ + (small_.capacity() > 15 ? small_.capacity() : 0);
}

void BodyBuffer::release_mapping() {
  if (mapped_) ::munmap(mapped_, mapped_capacity_);
  mapped_ = nullptr;
  mapped_size_ = mapped_capacity_ = 0;
}

}  // namespace iomodels::http
