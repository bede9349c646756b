#include "servers/event_loop/cpu_offload.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "servers/common/simulated_work.hpp"

namespace iomodels::loop {

CompletionInbox::CompletionInbox(EventLoop& loop, OnDone on_done)
    : wakeup_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)), on_done_(std::move(on_done)) {
  if (!wakeup_) throw std::system_error(errno, std::generic_category(), "eventfd");
  if (!loop.watch(wakeup_.get(), kReadable, *this)) {
    throw std::system_error(errno, std::generic_category(), "watching the /cpu inbox eventfd");
  }
}

void CompletionInbox::post(const CpuJob& job) {
  bool was_empty;
  {
    std::lock_guard lock(mutex_);
    was_empty = done_.empty();
    done_.push_back(job);
  }
  // Only the first job of a batch wakes the loop: the loop takes them all at
  // once, so one write (and one wake-up) serves many jobs under load.
  if (was_empty) {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wakeup_.get(), &one, sizeof one);
  }
}

void CompletionInbox::on_ready(std::uint8_t) {
  // Reset the eventfd before taking the jobs: a job posted after the swap
  // then finds done_ empty and writes again, so no wake-up is lost.
  std::uint64_t count;
  [[maybe_unused]] ssize_t n = ::read(wakeup_.get(), &count, sizeof count);
  {
    std::lock_guard lock(mutex_);
    handing_.swap(done_);
  }
  for (const CpuJob& job : handing_) on_done_(job);
  handing_.clear();
}

CpuWorkerPool::CpuWorkerPool(int threads) {
  for (int i = 0; i < threads; ++i) {
    workers_.emplace_back([this](std::stop_token stop) { work(stop); });
  }
}

void CpuWorkerPool::submit(const CpuJob& job) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(job);
  }
  ready_.notify_one();
}

void CpuWorkerPool::stop() {
  for (auto& worker : workers_) worker.request_stop();
  workers_.clear();  // jthread joins
}

void CpuWorkerPool::work(std::stop_token stop) {
  for (;;) {
    CpuJob job{};
    {
      std::unique_lock lock(mutex_);
      if (!ready_.wait(lock, stop, [this] { return !queue_.empty(); })) return;  // stopping
      job = queue_.front();
      queue_.pop_front();
    }
    // The burn is measured on this thread's own CPU clock, as on the loop.
    stoppable_burn_cpu(job.cpu_us);
    job.inbox->post(job);
  }
}

}  // namespace iomodels::loop
