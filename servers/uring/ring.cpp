#include "servers/uring/ring.hpp"

#include <sys/mman.h>
#include <sys/utsname.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <system_error>

namespace iomodels::uring {
namespace {

[[noreturn]] void fail(int error, const char* what) {
  throw std::system_error(error, std::generic_category(), what);
}

// Multishot accept and provided-buffer rings arrived in 5.19; cancelling
// every request of an fd at once (IORING_ASYNC_CANCEL_ALL) in 5.19 too.
bool kernel_at_least(int want_major, int want_minor, std::string& release) {
  utsname u{};
  uname(&u);
  release = u.release;
  int major = 0, minor = 0;
  std::sscanf(u.release, "%d.%d", &major, &minor);
  return major > want_major || (major == want_major && minor >= want_minor);
}

}  // namespace

std::string unsupported_reason() {
  std::string release;
  if (!kernel_at_least(5, 19, release)) {
    return "kernel " + release + " is older than 5.19 (multishot accept, provided-buffer rings)";
  }
  // A ring of our own: io_uring can be compiled out, disabled by the
  // kernel.io_uring_disabled sysctl, or refused by a container's seccomp
  // profile (Docker's default one does), each with its own errno.
  io_uring ring{};
  if (int rc = io_uring_queue_init(8, &ring, 0); rc < 0) {
    return std::string("io_uring_setup failed: ") + std::strerror(-rc) +
           (rc == -EPERM ? " (disabled by sysctl kernel.io_uring_disabled or a seccomp profile)"
                         : "");
  }
  std::unique_ptr<io_uring_probe, void (*)(io_uring_probe*)> probe(io_uring_get_probe_ring(&ring),
                                                                   io_uring_free_probe);
  io_uring_queue_exit(&ring);
  if (!probe) return "io_uring cannot say which operations it supports (IORING_REGISTER_PROBE)";
  struct Needed {
    int op;
    const char* name;
  };
  for (Needed n :
       {Needed{IORING_OP_ACCEPT, "accept"}, Needed{IORING_OP_RECV, "recv"},
        Needed{IORING_OP_SENDMSG, "sendmsg"}, Needed{IORING_OP_POLL_ADD, "poll"},
        Needed{IORING_OP_TIMEOUT, "timeout"}, Needed{IORING_OP_LINK_TIMEOUT, "link timeout"},
        Needed{IORING_OP_ASYNC_CANCEL, "cancel"}}) {
    if (!io_uring_opcode_supported(probe.get(), n.op)) {
      return std::string("io_uring lacks the ") + n.name + " operation";
    }
  }
  return "";
}

Ring::Ring(unsigned entries) {
  io_uring_params params{};
  params.cq_entries = entries * 4;
  // SINGLE_ISSUER + DEFER_TASKRUN (6.1+): only this thread submits, and the
  // kernel runs completion work when we enter to wait, not by interrupting
  // us whenever a packet arrives: fewer context switches under load.
  // SUBMIT_ALL: one bad SQE does not hold back the rest of a batch.
  params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
                 IORING_SETUP_DEFER_TASKRUN;
  int rc = io_uring_queue_init_params(entries, &ring_, &params);
  if (rc == -EINVAL) {
    // An older kernel without the optional flags: the same loop works.
    params = {};
    params.cq_entries = entries * 4;
    params.flags = IORING_SETUP_CQSIZE;
    rc = io_uring_queue_init_params(entries, &ring_, &params);
  }
  if (rc < 0) fail(-rc, "io_uring_queue_init");
  try {
    setup_buffers();
  } catch (...) {
    io_uring_queue_exit(&ring_);
    throw;
  }
}

void Ring::setup_buffers() {
  // The ring of buffer descriptors must be page aligned, hence mmap; the
  // buffers themselves follow it in the same mapping.
  const std::size_t ring_bytes = kBufferCount * sizeof(io_uring_buf);
  map_size_ = ring_bytes + std::size_t{kBufferCount} * kBufferSize;
  void* memory =
      mmap(nullptr, map_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) fail(errno, "mmap(provided buffers)");
  buf_ring_ = static_cast<io_uring_buf_ring*>(memory);
  buffers_ = static_cast<char*>(memory) + ring_bytes;

  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(buf_ring_);
  reg.ring_entries = kBufferCount;
  reg.bgid = kBufferGroup;
  if (int rc = io_uring_register_buf_ring(&ring_, &reg, 0); rc < 0) {
    munmap(memory, map_size_);
    fail(-rc, "io_uring_register_buf_ring");
  }
  io_uring_buf_ring_init(buf_ring_);
  const int mask = io_uring_buf_ring_mask(kBufferCount);
  for (unsigned id = 0; id < kBufferCount; ++id) {
    io_uring_buf_ring_add(buf_ring_, buffers_ + std::size_t{id} * kBufferSize, kBufferSize,
                          static_cast<unsigned short>(id), mask, static_cast<int>(id));
  }
  io_uring_buf_ring_advance(buf_ring_, kBufferCount);
}

Ring::~Ring() {
  // Closing the ring cancels whatever is still in flight; unmap after.
  io_uring_queue_exit(&ring_);
  if (buf_ring_) munmap(buf_ring_, map_size_);
}

io_uring_sqe* Ring::sqe(unsigned together) {
  if (io_uring_sq_space_left(&ring_) < together) io_uring_submit(&ring_);
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    // The kernel took no entries (it refuses new work while completions
    // it could not post are pending): nothing sensible is left to do.
    std::fprintf(stderr, "server-uring: submission queue stuck full\n");
    std::abort();
  }
  return sqe;
}

bool Ring::submit_and_wait() {
  int rc = io_uring_submit_and_wait(&ring_, 1);
  return rc >= 0 || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY;
}

void Ring::submit() {
  io_uring_submit(&ring_);
}

std::span<char> Ring::buffer(unsigned id, std::size_t length) {
  return {buffers_ + std::size_t{id} * kBufferSize, length};
}

void Ring::give_back(unsigned id) {
  io_uring_buf_ring_add(buf_ring_, buffers_ + std::size_t{id} * kBufferSize, kBufferSize,
                        static_cast<unsigned short>(id), io_uring_buf_ring_mask(kBufferCount), 0);
  io_uring_buf_ring_advance(buf_ring_, 1);
}

}  // namespace iomodels::uring
