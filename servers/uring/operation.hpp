// What a completion is about. Every submission carries a tag in its
// user_data, and the kernel hands the tag back with the completion: the low
// byte says which operation, the rest whose (the connection's fd).
// Completions nobody waits for (cancels, linked timeouts) carry no fd, so
// they can never touch a connection freed meanwhile.
#pragma once

#include <cstdint>

namespace iomodels::uring {

enum class Op : std::uint8_t {
  Ignore,       // a cancel, or the timeout linked to a receive
  Accept,       // the multishot accept on the listener
  AcceptRetry,  // the pause after EMFILE and friends is over
  Shutdown,     // the shutdown eventfd became readable: SIGINT/SIGTERM
  Receive,      // a connection's receive
  Send,         // a connection's send
  Timer,        // a connection's deadline without a receive (a /sleep)
};

inline std::uint64_t tag(int fd, Op op) {
  return (static_cast<std::uint64_t>(fd) << 8) | static_cast<std::uint8_t>(op);
}
inline Op op_of(std::uint64_t tag) {
  return static_cast<Op>(tag & 0xff);
}
inline int fd_of(std::uint64_t tag) {
  return static_cast<int>(tag >> 8);
}

}  // namespace iomodels::uring
