// Fd: the one owner of a file descriptor. Nothing else in the project calls
// close() on a descriptor it got from the kernel: an Fd does, in its
// destructor, exactly once. Non-copyable, because a copy would close twice.
#pragma once

#include <unistd.h>

#include <utility>

namespace iomodels {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  ~Fd() { reset(); }

  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }

  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    // close() can fail with EINTR, but on Linux the descriptor is released
    // anyway; retrying would close someone else's freshly opened fd.
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace iomodels
