// ConnectionQueue: accepted connections waiting for a worker thread.
//
// One acceptor pushes, several workers pop. The queue is bounded: a push that
// does not fit fails at once and the caller decides what to do with the
// connection (server-threaded answers 503), so a flood of connects costs
// bounded memory and descriptors instead of piling up unseen.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

#include "net/fd.hpp"

namespace iomodels {

class ConnectionQueue {
 public:
  // capacity: connections that may wait while no worker is free. A worker
  // already waiting in pop() takes a connection at once, so capacity 0 still
  // hands connections to idle workers; it only refuses to make any wait.
  explicit ConnectionQueue(std::size_t capacity);

  ConnectionQueue(const ConnectionQueue&) = delete;
  ConnectionQueue& operator=(const ConnectionQueue&) = delete;

  // Queues the connection and wakes a worker. If the queue is full or
  // closed, returns false and leaves `connection` with the caller.
  bool try_push(Fd& connection);

  // Blocks until a connection is queued, or returns nullopt once close() was
  // called. Connections still queued then are closed with the queue.
  std::optional<Fd> pop();

  // Wakes every worker waiting in pop(); later pushes fail.
  void close();

 private:
  const std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Fd> connections_;
  std::size_t idle_workers_ = 0;  // workers blocked in pop(), not yet handed one
  bool closed_ = false;
};

}  // namespace iomodels
