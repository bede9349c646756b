// Clean shutdown on SIGINT/SIGTERM for every I/O model.
//
// The handler only does async-signal-safe things: it sets a flag, makes an
// eventfd readable (an event loop polls it), and calls shutdown() on every
// socket a thread may be blocked on (watched fds), which wakes a blocked
// accept(), read() or write() with an error or EOF. Without that, a thread
// blocked in read() on an idle keep-alive connection would never see the flag.
#pragma once

#include <cstdint>

namespace iomodels::shutdown {

// Installs the handlers. Call once, after raising the fd limit and before
// starting threads.
void install_handlers();

bool requested();
// Sets the flag and wakes everyone, as the signal would.
void request();

// Readable once shutdown is requested (and stays readable): add it to an
// epoll set, or poll it.
int event_fd();

// Marks a socket that a thread blocks on; unwatch before closing it.
void watch(int fd);
void unwatch(int fd);

// Sleeps ms milliseconds without using CPU, unless shutdown is requested
// first; returns false then.
bool sleep_ms(std::uint32_t ms);

// Burns us microseconds of the calling thread's CPU unless shutdown is
// requested first; returns false then.
bool burn_cpu_us(std::uint32_t us);

}  // namespace iomodels::shutdown
