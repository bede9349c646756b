// --pool 0: the classic model, a new thread for every connection, which ends
// when its client leaves. Nothing bounds the thread count but the kernel
// (threads-max, RLIMIT_NPROC, memory for stacks) and the fd limit; when
// pthread_create fails, the connection is refused like a full queue's.
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include "servers/common/blocking_connection.hpp"
#include "servers/threaded/workers.hpp"

namespace iomodels {
namespace {

class ThreadPerConnection final : public Workers {
 public:
  ThreadPerConnection(const ThreadOptions& threads, const http::SessionConfig& session)
      : threads_(threads), session_(session) {
    // Detached: nobody joins a thread whose client left, so its stack is
    // freed as soon as it ends; stop_and_join() waits on the count instead.
    threads_.detached = true;
  }

  ~ThreadPerConnection() override { stop_and_join(); }

  bool take(Fd& connection) override {
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return false;
      ++running_;
    }
    // std::function needs a copyable callable; the shared_ptr lets the Fd
    // travel, and come back to the caller if the thread does not start.
    auto handed = std::make_shared<Fd>(std::move(connection));
    int rc = start_thread(threads_, [this, handed] {
      // Each thread serves one connection: its context lives as long.
      BlockingThread thread(session_);
      serve_blocking_connection(std::move(*handed), thread);
      add_counters(thread.counters());
      finished();
    });
    if (rc == 0) return true;
    connection = std::move(*handed);
    finished();
    return false;
  }

  void stop_and_join() override {
    std::unique_lock lock(mutex_);
    stopped_ = true;
    all_done_.wait(lock, [this] { return running_ == 0; });
  }

  std::string describe() const override { return "a new thread per connection"; }

 private:
  void finished() {
    // The last thing a connection thread does with this object: after it,
    // stop_and_join() may return and main() may destroy it.
    std::lock_guard lock(mutex_);
    if (--running_ == 0) all_done_.notify_all();
  }

  ThreadOptions threads_;
  const http::SessionConfig& session_;
  std::mutex mutex_;
  std::condition_variable all_done_;
  std::size_t running_ = 0;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<Workers> make_thread_per_connection(const ThreadOptions& threads,
                                                    const http::SessionConfig& session) {
  return std::make_unique<ThreadPerConnection>(threads, session);
}

}  // namespace iomodels
