// Workers: the threads that serve connections, one connection per thread at a
// time, with blocking I/O. Two shapes behind one interface, so that main()
// reads the same for both: a fixed pool fed by a ConnectionQueue (--pool N),
// or a new thread for every connection (--pool 0).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "net/fd.hpp"
#include "servers/common/blocking_session.hpp"
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
};

// Starts `size` threads at once; throws std::system_error if one cannot be
// started (the ones already started are stopped first).
std::unique_ptr<Workers> make_worker_pool(std::size_t size, std::size_t queue_capacity,
                                          const ThreadOptions& threads,
                                          const SessionConfig& session);

std::unique_ptr<Workers> make_thread_per_connection(const ThreadOptions& threads,
                                                    const SessionConfig& session);

}  // namespace iomodels
