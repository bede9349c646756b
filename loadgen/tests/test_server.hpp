// TestServer: a small, controllable HTTP responder for loadgen's tests, in a
// thread of the test process. It answers each "\r\n\r\n"-terminated request
// by its path (/sleep/{ms} after a delay, /bytes/{n} with the pattern) and
// can be told to misbehave: stop answering for a while, reset, send garbage,
// answer 500, corrupt /bytes bodies, send "100 Continue" before each answer,
// or read everything and answer nothing. A request's body (Content-Length)
// is read and skipped; HEAD gets headers only. poll()-based, so it serves
// many connections without threads of its own.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "net/fd.hpp"

namespace iomodels::loadgen::testing {

enum class Behaviour { Normal, Reset, Garbage, Status500, CorruptBody, Continue100, Silent };

class TestServer {
 public:
  // receive_buffer: SO_RCVBUF for the accepted connections (0: the
  // default), small to make a client's large writes partial.
  explicit TestServer(Behaviour behaviour = Behaviour::Normal, int receive_buffer = 0);
  ~TestServer();  // stops the thread
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::uint64_t requests_seen() const { return requests_.load(); }
  // From now on, read and answer nothing for this long (connections stay open).
  void stall_for_ms(int ms);

 private:
  void serve();

  Behaviour behaviour_;
  Fd listener_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> stalled_until_ns_{0};
  std::atomic<std::uint64_t> requests_{0};
  std::thread thread_;
};

}  // namespace iomodels::loadgen::testing
