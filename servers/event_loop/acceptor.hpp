// Acceptor: takes new connections off one listening socket and hands each to
// the reactor. When it cannot (out of file descriptors, --max-connections
// reached) it stops watching the listener for a moment instead of letting a
// level-triggered loop spin on a listener that stays readable.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "net/fd.hpp"
#include "servers/event_loop/connection_limit.hpp"
#include "servers/event_loop/counters.hpp"
#include "servers/event_loop/event_loop.hpp"

namespace iomodels::loop {

class Acceptor final : public Handler {
 public:
  using OnConnection = std::function<void(Fd)>;

  // listener: non-blocking and listening. Throws std::system_error at start-up
  // if the loop or the reserve descriptor cannot be set up.
  Acceptor(EventLoop& loop, Fd listener, ConnectionLimit& limit, Counters& counters,
           const std::string& model, OnConnection on_connection);

  int listen_fd() const { return listener_.get(); }

  void on_ready(std::uint8_t events) override;  // connections are waiting
  void on_timer() override;                     // the pause is over

 private:
  bool shed_one_connection();
  void pause();

  EventLoop& loop_;
  Fd listener_;
  Fd reserve_;  // a spare descriptor, for shed_one_connection()
  ConnectionLimit& limit_;
  Counters& counters_;
  const std::string& model_;
  OnConnection on_connection_;
};

}  // namespace iomodels::loop
