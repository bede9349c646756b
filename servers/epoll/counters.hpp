// What happened on one reactor, by category, printed when the server stops.
// Nothing fails silently: every refused, reset, timed-out or shed connection
// is counted somewhere here. Plain integers: a reactor is one thread.
#pragma once

#include <cstdint>

namespace iomodels::epoll {

struct Counters {
  std::uint64_t connections = 0;      // accepted and served
  std::uint64_t requests = 0;         // answered, errors included
  std::uint64_t bad_requests = 0;     // the parser refused them: 400, 413, 431, 501, 505
  std::uint64_t header_timeouts = 0;  // 408: the header section took too long
  std::uint64_t resets = 0;           // the peer reset or vanished mid-conversation
  std::uint64_t shed = 0;             // accepted and closed at once: out of file descriptors
  std::uint64_t accept_pauses = 0;    // the listener was ignored for a moment (fd shortage, limit)
};

}  // namespace iomodels::epoll
