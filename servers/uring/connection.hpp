// Connection: one client of the ring, the driver of its session.
//
// The exchange itself (parse, answer, deadlines, how it ends) is the
// session's: protocol/session.hpp has its phase table. What is here is how a
// completion-based loop carries out the session's steps: it hands the
// kernel an operation and hears back when it is done.
//
//   operation  in flight while                     completes with
//   ---------  ----------------------------------  ----------------------------------------
//   receive    a step reads; linked to a timeout   bytes, EOF, an error, or -ECANCELED when
//              while the step has a deadline       the timeout fired first: the deadline
//   send       bytes are owed, one send at a time  the bytes the kernel took; a short send
//                                                  leaves the rest for the next one
//   timer      a step waits without reading,       -ETIME: the deadline has come (the end
//              until a deadline                    of a /sleep)
//
//   phase    what is in flight        and then
//   -------  -----------------------  ----------------------------------------------
//   Open     any of the three above   the session's Close: Closing
//   Closing  cancels of the above     the last completion: freed, the fd closed
//
// The kernel holds pointers into this object while an operation is in
// flight (the iovecs of a send, the timespec of a timeout), so it is freed
// only once nothing is; and the bytes being sent are frozen in sending_
// (take_output()) while new answers collect in the session.
//
// Memory: an idle keep-alive connection holds this object, its session and
// no buffer: receives land in the ring's provided buffers, the parser is the
// session's to borrow, and sending_ frees its buffer once all is sent.
#pragma once

#include <linux/time_types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>

#include "net/fd.hpp"
#include "protocol/output_queue.hpp"
#include "protocol/session.hpp"
#include "servers/uring/operation.hpp"

namespace iomodels::uring {

class Proactor;

class Connection {
 public:
  Connection(Proactor& proactor, Fd fd);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start();
  void complete(Op op, int result, unsigned flags);
  // Closing and nothing in flight: the proactor may free it.
  bool finished() const { return phase_ == Phase::Closing && in_flight_ == 0; }

 private:
  enum class Phase : std::uint8_t { Open, Closing };
  // Operations in flight, one bit each.
  static constexpr std::uint8_t kReceiving = 1, kSending = 2, kTiming = 4;

  void on_receive(int result, unsigned flags);
  void on_send(int result);
  void proceed();
  void wait(const http::Step& step);
  void arm_receive(http::Clock::time_point deadline);
  void arm_timer(http::Clock::time_point deadline);
  void start_send();
  void close();

  Proactor& proactor_;
  Fd fd_;
  http::Session session_;
  Phase phase_ = Phase::Open;
  std::uint8_t in_flight_ = 0;
  http::OutputQueue sending_;  // the bytes of the send in flight

  // What the kernel reads while an operation is in flight.
  static constexpr int kMaxIov = 8;
  msghdr message_{};
  iovec iov_[kMaxIov]{};
  __kernel_timespec receive_time_{};
  __kernel_timespec timer_time_{};
};

}  // namespace iomodels::uring
