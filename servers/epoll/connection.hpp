// Connection: one client of the event loop, the driver of its session.
//
// The exchange itself (parse, answer, deadlines, how it ends) is the
// session's: protocol/session.hpp has its phase table. What is here is how
// a readiness loop carries out the session's steps without ever blocking:
//
//   step           epoll interest            timer            then
//   -------------  ------------------------  ---------------  ----------------------------
//   Write          OUT, + IN if the step     the step's       writable: write again
//                  reads (socket full)       deadline
//   BurnCpu        none                      -                on the loop: burn, next step;
//                                                             --offload: a worker burns,
//                                                             its inbox wakes us
//   ShutdownWrite  -                         -                next step at once
//   Wait           IN if the step reads      the step's       readable: read; timer: expired
//                                            deadline
//   Close          removed with the fd       cancelled        freed at the end of the turn
//
// A step that does not read does not watch EPOLLIN: level-triggered epoll
// would otherwise report unread bytes on every turn of the loop.
//
// Memory: an idle keep-alive connection costs this object and its session,
// which holds no parser and no buffer between requests. Reads land in the
// loop's shared buffer; answers are built in the loop's shared scratch queue.
#pragma once

#include <cstdint>

#include "net/fd.hpp"
#include "protocol/session.hpp"
#include "servers/epoll/handler.hpp"

namespace iomodels::epoll {

class Reactor;

class Connection final : public Handler {
 public:
  Connection(Reactor& reactor, Fd fd, std::uint32_t serial);
  // Adds the socket to the loop; false if the kernel refuses (then drop it).
  [[nodiscard]] bool start();

  void on_ready(std::uint32_t events) override;
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

  Reactor& reactor_;
  Fd fd_;
  std::uint32_t serial_;
  std::uint8_t watching_ = 0;  // the EPOLLIN/EPOLLOUT bits in the epoll set now
  http::Session session_;
};

}  // namespace iomodels::epoll
