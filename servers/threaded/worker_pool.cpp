// --pool N: N threads started up front, each taking connections from one
// bounded ConnectionQueue and serving each until it closes. A keep-alive
// client keeps its worker for as long as it stays connected, so N is the
// number of clients served at once; the N+1st waits in the queue.
#include <pthread.h>

#include <string>
#include <system_error>
#include <vector>

#include "servers/common/blocking_connection.hpp"
#include "servers/threaded/connection_queue.hpp"
#include "servers/threaded/workers.hpp"

namespace iomodels {
namespace {

class WorkerPool final : public Workers {
 public:
  WorkerPool(std::size_t size, std::size_t queue_capacity, const ThreadOptions& threads,
             const http::SessionConfig& session)
      : queue_(queue_capacity), session_(session) {
    threads_.reserve(size);
    for (std::size_t i = 0; i < size; ++i) {
      pthread_t id{};
      if (int rc = start_thread(
              threads, [this] { work(); }, &id)) {
        stop_and_join();
        throw std::system_error(
            rc, std::generic_category(),
            "cannot start worker thread " + std::to_string(i + 1) + " of " + std::to_string(size));
      }
      threads_.push_back(id);
    }
  }

  ~WorkerPool() override { stop_and_join(); }

  bool take(Fd& connection) override { return queue_.try_push(connection); }

  void stop_and_join() override {
    queue_.close();
    for (pthread_t id : threads_) pthread_join(id, nullptr);
    threads_.clear();
  }

  std::string describe() const override {
    return "a pool of " + std::to_string(threads_.size()) + " threads";
  }

 private:
  void work() {
    BlockingThread thread(session_);
    while (std::optional<Fd> connection = queue_.pop()) {
      serve_blocking_connection(std::move(*connection), thread);
    }
    add_counters(thread.counters());
  }

  ConnectionQueue queue_;
  const http::SessionConfig& session_;
  std::vector<pthread_t> threads_;
};

}  // namespace

std::unique_ptr<Workers> make_worker_pool(std::size_t size, std::size_t queue_capacity,
                                          const ThreadOptions& threads,
                                          const http::SessionConfig& session) {
  return std::make_unique<WorkerPool>(size, queue_capacity, threads, session);
}

}  // namespace iomodels
