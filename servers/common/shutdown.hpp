// Clean shutdown on SIGINT/SIGTERM for every I/O model.
//
// The handler only does async-signal-safe things: it sets a flag, makes an
// eventfd readable (an event loop polls it), and calls shutdown() on every
// socket a thread may be blocked on (watched fds), which wakes a blocked
// accept(), read() or write() with an error or EOF. Without that, a thread
// blocked in read() on an idle keep-alive connection would never see the flag.
#pragma once

#include <atomic>

namespace iomodels::shutdown {

// Installs the handlers. Call once, after raising the fd limit and before
// starting threads.
void install_handlers();

bool requested();
// The flag itself, for work that checks it as it goes (burn_cpu_us).
const std::atomic<bool>& requested_flag();

// Readable once shutdown is requested (and stays readable): add it to an
// epoll set, or poll it.
int event_fd();

// Marks a socket that a thread blocks on; unwatch before closing it.
void watch(int fd);
void unwatch(int fd);

}  // namespace iomodels::shutdown
