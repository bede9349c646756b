// What server-epoll was asked to do: the common options plus its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "servers/common/server_options.hpp"

namespace iomodels::epoll {

struct EpollConfig {
  ServerOptions server;               // --host, --port, the sessions' limits and bounds
  int reactors = 1;                   // event loops (threads) per process
  int offload_threads = 0;            // 0: /cpu runs on the loop
  int processes = 1;                  // worker processes
  std::uint64_t max_connections = 0;  // per process
};

}  // namespace iomodels::epoll
