// Connection: one client, as a small state machine driven by the loop.
//
//   phase      epoll interest   its timer        and then
//   ---------  ---------------  ---------------  ----------------------------------
//   Reading    IN (+OUT)        header timeout   a /sleep or offloaded /cpu: Waiting
//                                                output over the high-water mark,
//                                                a closing response, EOF, 408: Writing
//   Waiting    (OUT)            end of /sleep    timer fired or /cpu job done:
//                                                answer it, back to Reading
//   Writing    OUT              -                all flushed: Reading again, or
//                                                close, or after an error Lingering
//   Lingering  IN               1 s              EOF or deadline: close
//
// "(OUT)": only while earlier responses are still being written. A phase
// that does not read does not watch EPOLLIN: level-triggered epoll would
// otherwise report unread bytes on every turn of the loop.
//
// Memory: an idle keep-alive connection costs this object and nothing else.
// Reads land in the loop's shared buffer; a parser is borrowed from the
// loop's pool only while a request is arriving; responses are built in the
// loop's shared output queue and move into the connection's own out_ only if
// the socket does not take them at once. So the common request (one read in,
// one write out) allocates nothing per connection.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "net/fd.hpp"
#include "protocol/output_queue.hpp"
#include "protocol/request_parser.hpp"
#include "protocol/router.hpp"
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
  void finish_waiting();

  int fd() const { return fd_.get(); }
  // Tells this connection from a later one that got the same fd number.
  std::uint32_t serial() const { return serial_; }

 private:
  enum class Phase : std::uint8_t { Reading, Waiting, Writing, Lingering, Closed };
  // What to do once Writing has flushed everything.
  enum class AfterFlush : std::uint8_t { ReadAgain, Close, Linger };

  void read_and_serve();
  void serve(std::span<const char> input);
  void answer(const http::Plan& plan);
  void respond(const http::Response& response);
  void wait_for(const http::Response& response);
  void proceed();
  bool flush();
  void drain();
  void start_lingering();
  void close();

  void enter(Phase phase);
  void update_interest();
  void update_header_timer();
  void return_parser();
  http::OutputQueue& output();

  Reactor& reactor_;
  Fd fd_;
  std::uint32_t serial_;
  Phase phase_ = Phase::Reading;
  AfterFlush after_flush_ = AfterFlush::ReadAgain;
  std::uint8_t watching_ = 0;                  // the EPOLLIN/EPOLLOUT bits in the epoll set now
  std::optional<http::RequestParser> parser_;  // only while a request is arriving
  http::OutputQueue out_;                      // what the socket has not taken yet
  std::string unparsed_;  // requests pipelined behind one that waits, not read yet
  std::unique_ptr<http::Response> deferred_;  // the answer a Waiting connection owes
};

}  // namespace iomodels::epoll
