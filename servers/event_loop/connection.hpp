// Connection: one client of the event loop, the driver of its session.
//
// The exchange itself (parse, answer, deadlines, how it ends) is the
// session's: protocol/session.hpp has its phase table. What is here is how
// a readiness loop carries out the session's steps without ever blocking,
// whichever poller it waits with (epoll, poll, select):
//
//   step           interest                  timer            then
//   -------------  ------------------------  ---------------  ----------------------------
//   Write          writable, + readable if   the step's       writable: write again
//                  the step reads (socket    deadline
//                  full)
//   BurnCpu        none                      -                on the loop: burn, next step;
//                                                             --offload: a worker burns,
//                                                             its inbox wakes us
//   ShutdownWrite  -                         -                next step at once
//   Wait           readable if the step      the step's       readable: read; timer: expired
//                  reads                     deadline
//   Close          unwatched, fd closed      cancelled        freed at the end of the turn
//
// A step that does not read does not watch for readable: a level-triggered
// poller would otherwise report unread bytes on every turn of the loop.
//
// Memory: an idle keep-alive connection costs this object and its session,
// which holds no parser and no buffer between requests. Reads land in the
// loop's shared buffer; answers are built in the loop's shared scratch queue.
#pragma once

#include <cstdint>

#include "net/fd.hpp"
#include "protocol/session.hpp"
#include "servers/event_loop/handler.hpp"

namespace iomodels::loop {

class Reactor;

class Connection final : public Handler {
 public:
  Connection(Reactor& reactor, Fd fd, std::uint32_t serial);
  // Adds the socket to the loop; false if the poller refuses. The socket
  // is then release()d, to be refused.
  [[nodiscard]] bool start();
  Fd release() { return std::move(fd_); }

  void on_ready(std::uint8_t events) override;
  void on_timer() override;

  // The offloaded /cpu work of this connection is done: answer it.
  void finish_cpu_work();

  int fd() const { return fd_.get(); }
  // Tells this connection from a later one that got the same fd number.
  std::uint32_t serial() const { return serial_; }

 private:
  void read();
  bool write();
  void proceed();
  void wait(const http::Step& step, bool writing);
  void close();

  // fd_ first: it fits in Handler's tail padding. At 10 000 idle
  // connections, each word here is 80 KB.
  Fd fd_;
  std::uint32_t serial_;
  std::uint8_t watching_ = 0;  // the interest the poller has now
  Reactor& reactor_;
  http::Session session_;
};

}  // namespace iomodels::loop
