// What a readiness server (server-epoll, server-poll, server-select) was
// asked to do: the common options plus the loop's own.
#pragma once

#include <cstdint>
#include <string>

#include "servers/common/server_options.hpp"

namespace iomodels::loop {

struct LoopConfig {
  std::string model;                  // "epoll", "poll", "select": for logs
  ServerOptions server;               // --host, --port, the sessions' limits and bounds
  int reactors = 1;                   // event loops (threads) per process
  int offload_threads = 0;            // 0: /cpu runs on the loop
  int processes = 1;                  // worker processes
  std::uint64_t max_connections = 0;  // per process
};

}  // namespace iomodels::loop
