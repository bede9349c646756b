#include "servers/threaded/connection_queue.hpp"

namespace iomodels {

ConnectionQueue::ConnectionQueue(std::size_t capacity) : capacity_(capacity) {}

bool ConnectionQueue::try_push(Fd& connection) {
  {
    std::lock_guard lock(mutex_);
    // Every idle worker will take one of the queued connections; only the
    // rest count against the capacity.
    if (closed_ || connections_.size() >= capacity_ + idle_workers_) return false;
    connections_.push_back(std::move(connection));
  }
  ready_.notify_one();
  return true;
}

std::optional<Fd> ConnectionQueue::pop() {
  std::unique_lock lock(mutex_);
  ++idle_workers_;
  ready_.wait(lock, [this] { return closed_ || !connections_.empty(); });
  --idle_workers_;
  if (closed_) return std::nullopt;
  Fd connection = std::move(connections_.front());
  connections_.pop_front();
  return connection;
}

void ConnectionQueue::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  ready_.notify_all();
}

}  // namespace iomodels
