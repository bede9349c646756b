#include "servers/threaded/thread_start.hpp"

#include <unistd.h>

#include <memory>

namespace iomodels {
namespace {

std::size_t page_size() {
  return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

std::size_t round_to_pages(std::size_t bytes) {
  const std::size_t page = page_size();
  return (bytes + page - 1) / page * page;
}

void* run(void* arg) {
  // Owned here, so the body and whatever it captured are destroyed on this
  // thread, before it ends.
  std::unique_ptr<std::function<void()>> body(static_cast<std::function<void()>*>(arg));
  (*body)();
  return nullptr;
}

// pthread_attr_t is a C resource: destroyed on every path.
struct Attributes {
  pthread_attr_t attr;
  Attributes() { pthread_attr_init(&attr); }
  ~Attributes() { pthread_attr_destroy(&attr); }
  Attributes(const Attributes&) = delete;
  Attributes& operator=(const Attributes&) = delete;
};

}  // namespace

std::size_t min_thread_stack_bytes() {
  long minimum = ::sysconf(_SC_THREAD_STACK_MIN);
  return round_to_pages(minimum > 0 ? static_cast<std::size_t>(minimum) : 16384);
}

std::size_t thread_stack_bytes(const ThreadOptions& options) {
  if (options.stack_bytes != 0) return round_to_pages(options.stack_bytes);
  // glibc's default for new threads, set from RLIMIT_STACK at start-up.
  Attributes defaults;
  std::size_t bytes = 0;
  pthread_getattr_default_np(&defaults.attr);
  pthread_attr_getstacksize(&defaults.attr, &bytes);
  return bytes;
}

int start_thread(const ThreadOptions& options, std::function<void()> body, pthread_t* id) {
  Attributes attributes;
  if (options.stack_bytes != 0) {
    if (int rc = pthread_attr_setstacksize(&attributes.attr, round_to_pages(options.stack_bytes))) {
      return rc;
    }
  }
  if (options.detached) pthread_attr_setdetachstate(&attributes.attr, PTHREAD_CREATE_DETACHED);
  auto owned = std::make_unique<std::function<void()>>(std::move(body));
  pthread_t thread{};
  int rc = pthread_create(&thread, &attributes.attr, run, owned.get());
  if (rc != 0) return rc;  // owned still holds the body and frees it
  owned.release();         // the new thread owns it now
  if (id != nullptr) *id = thread;
  return 0;
}

}  // namespace iomodels
