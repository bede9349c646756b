// Idle TCP connections over loopback, both ends held by this process: the
// "N idle clients" that the readiness and kernel-memory benchmarks watch.
#pragma once

#include <cstddef>
#include <vector>

#include "net/fd.hpp"

namespace iomodels::microbench {

class LoopbackConnections {
 public:
  LoopbackConnections() = default;
  // Throws std::system_error (EMFILE, ...) with what went wrong.
  explicit LoopbackConnections(std::size_t connections) { grow(connections); }

  // Adds connections until there are `connections` of them.
  void grow(std::size_t connections);
  void clear() { ends_.clear(); }

  std::size_t connections() const { return ends_.size() / 2; }
  // Both ends of every connection: client, server, client, server, ...
  const std::vector<Fd>& ends() const { return ends_; }

 private:
  std::vector<Fd> ends_;
};

// One pool shared by every benchmark of the process, so that thousands of
// connections are set up once rather than once per benchmark run.
LoopbackConnections& shared_idle_connections();

}  // namespace iomodels::microbench
