// Workers: the threads that serve connections, one connection per thread at a
// time, with blocking I/O. Two shapes behind one interface, so that main()
// reads the same for both: a fixed pool fed by a ConnectionQueue (--pool N),
// or a new thread for every connection (--pool 0).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include "net/fd.hpp"
#include "protocol/session_config.hpp"
#include "protocol/session_counters.hpp"
#include "servers/threaded/thread_start.hpp"

namespace iomodels {

class Workers {
 public:
  virtual ~Workers() = default;

  // Hands the connection to a thread. False if no thread can take it (pool
  // and queue full, or no thread could be started): the caller keeps it.
  virtual bool take(Fd& connection) = 0;

  // Stops taking connections and waits until every thread has finished.
  // Threads serving a client only finish once shutdown was requested (the
  // shutdown module wakes their blocked reads), so call it after that.
  virtual void stop_and_join() = 0;

  // One line for the start-up log: "pool of 4 threads, queue 64".
  virtual std::string describe() const = 0;

  // What the sessions of every finished thread counted (after stop_and_join()).
  http::SessionCounters counters() {
    std::lock_guard lock(counters_mutex_);
    return counters_;
  }

 protected:
  // A thread adds its own counts once, when it ends: no lock per request.
  void add_counters(const http::SessionCounters& counters) {
    std::lock_guard lock(counters_mutex_);
    counters_ += counters;
  }

 private:
  std::mutex counters_mutex_;
  http::SessionCounters counters_;
};

// Starts `size` threads at once; throws std::system_error if one cannot be
// started (the ones already started are stopped first).
std::unique_ptr<Workers> make_worker_pool(std::size_t size, std::size_t queue_capacity,
                                          const ThreadOptions& threads,
                                          const http::SessionConfig& session);

std::unique_ptr<Workers> make_thread_per_connection(const ThreadOptions& threads,
                                                    const http::SessionConfig& session);

}  // namespace iomodels
