// What server-epoll was asked to do: the common options plus its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "servers/common/server_options.hpp"

namespace iomodels::epoll {

struct EpollConfig {
  ServerOptions server;                        // --host, --port, limits, --header-timeout-ms
  std::string server_name;                     // "iomodels-epoll"
  int reactors = 1;                            // event loops (threads) per process
  int offload_threads = 0;                     // 0: /cpu runs on the loop
  int processes = 1;                           // worker processes
  std::uint64_t max_connections = 0;           // per process
  std::size_t max_output_bytes = 1024 * 1024;  // per connection, then reads pause
};

}  // namespace iomodels::epoll
