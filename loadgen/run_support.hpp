// What a run and an --idle hold both need around their loops: exit codes,
// the fd check, signals, the JSON file, the clocks.
#pragma once

#include <signal.h>

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace iomodels::loadgen {

constexpr int kExitCannotRun = 1;
constexpr int kExitInvalidRun = 3;

// connections + this many must fit RLIMIT_NOFILE: stdio, one epoll per
// thread, the JSON file, a few for the C++ runtime.
constexpr std::uint64_t kSpareFds = 16;

// Raises the soft fd limit to the hard one; false (after saying why and
// what to do on stderr) when `connections` still do not fit.
bool fd_limit_fits(std::uint64_t connections, int threads);

// Ctrl-C and SIGTERM are taken by sigtimedwait() in the main thread only:
// blocked before any worker starts, so the workers inherit the mask and
// never see them.
sigset_t stop_signals();
// Waits until CLOCK_MONOTONIC reaches `deadline_ns` or a stop signal comes;
// true if the deadline came first.
bool wait_until(std::int64_t deadline_ns, const sigset_t& signals);

bool write_json(const std::string& path, const nlohmann::json& j);

std::string host_name();
double unix_now_s();

}  // namespace iomodels::loadgen
