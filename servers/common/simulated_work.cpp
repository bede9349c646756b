#include "servers/common/simulated_work.hpp"

#include <poll.h>

#include "protocol/cpu_burn.hpp"
#include "servers/common/shutdown.hpp"

namespace iomodels {

bool stoppable_sleep_until(std::chrono::steady_clock::time_point deadline) {
  // Polling the shutdown eventfd is a sleep that a signal ends at once.
  pollfd p{shutdown::event_fd(), POLLIN, 0};
  for (;;) {
    if (shutdown::requested()) return false;
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= left.zero()) return true;
    // Rounded up: the sleep is at least as long as asked, never a little less.
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    if (::poll(&p, 1, static_cast<int>(ms)) > 0) return false;
  }
}

bool stoppable_burn_cpu(std::uint32_t us) {
  return burn_cpu_us(us, &shutdown::requested_flag());
}

}  // namespace iomodels
