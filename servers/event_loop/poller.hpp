// Poller: the one thing that differs between server-epoll, server-poll and
// server-select. Everything above it (the loop, the timers, the acceptor,
// the connections, the sessions) is the same code for all three; below it
// is one kernel interface, in a file of its own in each model's folder
// (redis's ae_epoll.c / ae_select.c, muduo's Poller).
//
// Readiness comes in bits of our own, so that nothing above this line
// knows EPOLLIN from POLLIN from an fd_set. Level-triggered everywhere: a
// descriptor is reported on every wait for as long as it stays ready.
#pragma once

#include <cstdint>
#include <vector>

namespace iomodels::loop {

class Handler;

// What a handler asks to hear of (kReadable, kWritable) and what a backend
// reports. kBroken (an error, or both directions shut down) is reported
// whether asked for or not by epoll and poll; select has no such set, so
// there a broken socket shows as readable (its read fails), and a socket
// watched for nothing hears of nothing until it is watched again.
enum Readiness : std::uint8_t {
  kReadable = 1,
  kWritable = 2,
  kBroken = 4,
};

struct Ready {
  Handler* handler;
  std::uint8_t events;  // Readiness bits
};

class Poller {
 public:
  virtual ~Poller() = default;

  // Why this backend can never watch fd, or nullptr if it can. A connection
  // it cannot watch is refused (503), never watched wrongly.
  virtual const char* cannot_watch(int fd) const = 0;

  // Starts watching fd for `interest` (Readiness bits; 0 to hear only that
  // it broke). False, with errno set, if the kernel refuses (epoll at
  // fs.epoll.max_user_watches).
  [[nodiscard]] virtual bool add(int fd, std::uint8_t interest, Handler& handler) = 0;
  virtual void change(int fd, std::uint8_t interest, Handler& handler) = 0;
  // Stops watching fd; called just before it is closed.
  virtual void remove(int fd) = 0;

  // Waits until something is ready or timeout_ms has passed (-1: no limit,
  // 0: just look), and appends what is ready. A signal ends the wait early
  // with nothing appended.
  virtual void wait(int timeout_ms, std::vector<Ready>& ready) = 0;
};

}  // namespace iomodels::loop
