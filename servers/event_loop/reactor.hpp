// Reactor: one event loop and everything it serves, on one thread.
//
// It owns the loop, the acceptor of its own listening socket, its
// connections (in a table indexed by fd, as redis's ae keeps them) and the
// scratch space its connections share: one read buffer, and the sessions'
// context (one output queue, one pool of parsers, the counters). Sharing is
// safe because a loop runs one handler at a time, and it is what keeps an
// idle connection small.
//
// --reactors N runs N of these on N threads, each with its own SO_REUSEPORT
// listener, so the kernel spreads new connections over them and they share
// nothing but the connection limit (and the /cpu worker pool, if any).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "net/fd.hpp"
#include "protocol/session.hpp"
#include "servers/event_loop/acceptor.hpp"
#include "servers/event_loop/config.hpp"
#include "servers/event_loop/connection.hpp"
#include "servers/event_loop/connection_limit.hpp"
#include "servers/event_loop/counters.hpp"
#include "servers/event_loop/cpu_offload.hpp"
#include "servers/event_loop/event_loop.hpp"

namespace iomodels::loop {

class Reactor {
 public:
  // poller: this loop's own. offload: the /cpu worker pool, or nullptr to
  // run /cpu on the loop. Throws std::system_error if the kernel refuses an
  // eventfd or to watch the listener.
  Reactor(int index, const LoopConfig& config, std::unique_ptr<Poller> poller, Fd listener,
          ConnectionLimit& limit, CpuWorkerPool* offload);
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // Serves until SIGINT/SIGTERM.
  void run();
  void log_counters() const;
  int listen_fd() const { return acceptor_.listen_fd(); }

  // For the connections of this reactor.
  EventLoop& loop() { return loop_; }
  http::SessionContext& sessions() { return sessions_; }
  std::span<char> read_buffer() { return {read_buffer_.get(), kReadBufferSize}; }
  bool offloading() const { return offload_ != nullptr; }
  void offload_cpu(const Connection& connection, std::uint32_t cpu_us);
  // The connection on fd has closed; it is freed at the end of this turn.
  void retire(int fd);

 private:
  // Stops the loop on SIGINT/SIGTERM. The shutdown eventfd stays readable
  // once written, so every reactor's poller reports it: one signal stops all.
  class StopOnShutdown final : public Handler {
   public:
    explicit StopOnShutdown(EventLoop& loop) : loop_(loop) {}
    void on_ready(std::uint8_t) override { loop_.stop(); }
    void on_timer() override {}

   private:
    EventLoop& loop_;
  };

  void add_connection(Fd fd);
  void refuse(Fd fd, const char* why);
  void finish_cpu_job(const CpuJob& job);

  // One read takes at most this much: 64 KiB holds many pipelined requests,
  // and whatever does not fit is read on the next turn (level-triggered).
  static constexpr std::size_t kReadBufferSize = 64 * 1024;

  const int index_;
  const LoopConfig& config_;
  ConnectionLimit& limit_;
  CpuWorkerPool* offload_;
  Counters counters_;
  // Before the connections: their sessions give their parsers back to it.
  http::SessionContext sessions_;
  EventLoop loop_;
  StopOnShutdown stop_on_shutdown_{loop_};
  Acceptor acceptor_;
  std::optional<CompletionInbox> inbox_;                  // with --offload
  std::vector<std::unique_ptr<Connection>> connections_;  // indexed by fd
  std::vector<std::unique_ptr<Connection>> retired_;      // closed this turn
  std::uint32_t next_serial_ = 0;
  std::unique_ptr<char[]> read_buffer_;
  Clock::time_point last_refusal_said_{};
};

}  // namespace iomodels::loop
