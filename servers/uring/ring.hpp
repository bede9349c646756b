// Ring: the one owner of an io_uring instance and of its provided-buffer
// ring, and the start-up check that this kernel can run server-uring.
//
// The loop talks to the kernel through two queues in shared memory: it
// writes submission entries (SQEs: "receive on fd 7", "sleep 10 ms") and
// reads completion entries (CQEs: "fd 7 received 78 bytes into buffer 12").
// One io_uring_enter() both submits everything queued and waits for
// completions, so a busy loop makes far fewer system calls than requests.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace iomodels::uring {

// What the kernel must offer; probed once at start-up (--probe prints it).
// Returns "" when everything is there, else what is missing, for the user.
std::string unsupported_reason();

class Ring {
 public:
  // entries: the submission queue's size; the completion queue gets four
  // times as many, since multishot accept and the replies of a busy batch
  // can complete more than was submitted in one go. Throws std::system_error.
  explicit Ring(unsigned entries);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // An SQE to fill in. `together` entries are guaranteed to be free, so a
  // linked pair (a receive and its timeout) never straddles two submissions;
  // when the queue is full, what is queued is submitted first.
  io_uring_sqe* sqe(unsigned together = 1);

  // Submits what is queued and waits for at least one completion. Returns
  // false only on an error other than EINTR (a signal: the caller checks why).
  bool submit_and_wait();
  // Submits without waiting (before the thread stalls in /cpu work).
  void submit();

  io_uring* get() { return &ring_; }

  // Provided buffers: the kernel picks a free one when a receive completes,
  // so an idle connection holds no receive buffer (epoll servers keep one per
  // connection, or read into a shared one after the readiness event).
  static constexpr int kBufferGroup = 0;
  std::span<char> buffer(unsigned id, std::size_t length);
  void give_back(unsigned id);

 private:
  void setup_buffers();

  io_uring ring_{};
  io_uring_buf_ring* buf_ring_ = nullptr;
  char* buffers_ = nullptr;
  std::size_t map_size_ = 0;
};

// Sizes of the provided buffers. 4 KiB holds a whole pipelined burst of
// /hello requests; 512 of them cover a batch in which every connection of a
// 1000-connection run completes a receive at once only partly, and the rest
// get -ENOBUFS and are simply re-armed after this batch has returned its
// buffers. 2 MiB in all, touched as they are used.
inline constexpr unsigned kBufferCount = 512;  // a power of two (ring mask)
inline constexpr unsigned kBufferSize = 4096;

}  // namespace iomodels::uring
