// The command line of server-threaded: the shared server options plus the
// three knobs of this model (--pool, --queue, --stack-kib), checked.
#pragma once

#include <cstddef>

#include "servers/common/server_options.hpp"
#include "servers/threaded/thread_start.hpp"

namespace iomodels {

struct ThreadedOptions {
  ServerOptions server;
  std::size_t pool = 0;   // 0: a new thread per connection
  std::size_t queue = 0;  // connections that may wait for a busy pool
  ThreadOptions threads;  // stack size of every connection thread
};

// Parses argv; --help exits 0, a bad value exits 2 (as ServerCommandLine).
ThreadedOptions parse_threaded_options(ServerCommandLine& cli, int argc, char** argv);

// The --help paragraph.
extern const char* const kThreadedSummary;

}  // namespace iomodels
