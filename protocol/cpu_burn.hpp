// The simulated business logic of GET /cpu/{us}: spin on the calling thread
// until it has used `us` microseconds of its own CPU time.
#pragma once

#include <atomic>
#include <cstdint>

namespace iomodels {

// Measured with CLOCK_THREAD_CPUTIME_ID, so time the thread spends preempted
// does not count: the work done is the same whatever the load. Returns early
// (false) if `stop` becomes true, so a server can still exit within a second.
bool burn_cpu_us(std::uint32_t us, const std::atomic<bool>* stop = nullptr);

}  // namespace iomodels
