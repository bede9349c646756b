// What the hostile-client suite runs against, from its command line:
//   hostile_tests --server PATH --model NAME [--loadgen PATH] [gtest flags]
// One ctest entry per server binary (tests/hostile/CMakeLists.txt).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/blackbox/server_process.hpp"

namespace iomodels::hostile {

// The one server launcher of the C++ tests (tests/blackbox/server_process.hpp).
using testing::ServerLaunch;
using testing::ServerProcess;

struct Config {
  std::string server;   // path of server-<model>
  std::string model;    // blocking, threaded, epoll, uring, ...
  std::string loadgen;  // empty: the load-generator fault test is skipped
};

const Config& config();

// server-blocking serves one client at a time by design; every other model
// serves many at once, and the tests expect that of them.
inline bool serves_one_at_a_time() {
  return config().model == "blocking";
}

inline ServerLaunch launch(std::vector<std::string> args = {}) {
  return ServerLaunch{.binary = config().server, .args = std::move(args), .nofile = {}};
}

// Sanitizer builds use several times the memory and CPU of a normal build;
// bounds on RSS and CPU time are scaled by this, everything else is not.
#ifdef IOMODELS_HOSTILE_SANITIZED
inline constexpr std::uint64_t kSanitizerFactor = 4;
#else
inline constexpr std::uint64_t kSanitizerFactor = 1;
#endif

// One line per measured figure, collected into docs/hostile.md.
void report_figure(const std::string& test, const std::string& text);

}  // namespace iomodels::hostile
