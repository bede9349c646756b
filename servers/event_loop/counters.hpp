// What happened at one reactor's door, printed when the server stops, beside
// what its sessions counted (protocol/session_counters.hpp). Nothing fails
// silently: every shed or refused connection and every pause is counted
// here. Plain integers: a reactor is one thread.
#pragma once

#include <cstdint>

namespace iomodels::loop {

struct Counters {
  std::uint64_t refused = 0;        // answered 503 at once: the poller cannot watch them
  std::uint64_t shed = 0;           // accepted and closed at once: out of file descriptors
  std::uint64_t accept_pauses = 0;  // the listener was ignored for a moment (fd shortage, limit)
};

}  // namespace iomodels::loop
