// The work a request asks for, done on the calling thread: the wall time of
// /sleep and the CPU time of /cpu, both cut short by SIGINT/SIGTERM so that a
// server exits at once even in the middle of a minute-long /sleep.
//
// The blocking models do both on the thread that serves the connection; an
// event loop waits for /sleep with a timer instead, and burns /cpu on the
// loop or on a worker thread (--offload).
#pragma once

#include <chrono>
#include <cstdint>

namespace iomodels {

// Sleeps until the deadline without using CPU; false if shutdown was
// requested first.
bool stoppable_sleep_until(std::chrono::steady_clock::time_point deadline);

// Burns `us` microseconds of the calling thread's CPU time; false if
// shutdown was requested first.
bool stoppable_burn_cpu(std::uint32_t us);

}  // namespace iomodels
