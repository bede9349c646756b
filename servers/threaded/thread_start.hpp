// Starting a thread with a chosen stack size. std::thread and std::jthread
// cannot set one; pthread attributes can. The stack is the per-connection
// memory cost of this model (glibc's default is RLIMIT_STACK, usually 8 MiB of
// address space, of which only the touched pages become resident), so the
// size is a knob worth turning in a workshop.
#pragma once

#include <pthread.h>

#include <cstddef>
#include <functional>

namespace iomodels {

struct ThreadOptions {
  std::size_t stack_bytes = 0;  // 0: the C library's default
  bool detached = false;        // detached threads are never joined
};

// The smallest stack --stack-kib accepts (PTHREAD_STACK_MIN, page-rounded).
std::size_t min_thread_stack_bytes();

// The stack size a thread started with these options gets.
std::size_t thread_stack_bytes(const ThreadOptions& options);

// Runs body on a new thread. Returns 0, or the errno of pthread_create
// (EAGAIN: out of threads or memory; EINVAL: a bad stack size). For a
// joinable thread, *id receives its id for pthread_join().
int start_thread(const ThreadOptions& options, std::function<void()> body, pthread_t* id = nullptr);

}  // namespace iomodels
