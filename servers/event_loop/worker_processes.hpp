// --processes N: nginx's master and workers.
//
// The parent forks N worker processes, each of which opens its own
// SO_REUSEPORT listener(s) on the same port and runs its own loop(s); the
// kernel spreads new connections over all of them. Processes share nothing,
// not even the file descriptor table, so each has the whole per-process fd
// limit (RLIMIT_NOFILE, 20000 here) to itself: N workers can hold N times as
// many connections as one.
//
// The parent serves nothing: it waits until every worker is listening,
// prints the "listening on" line, then forwards SIGINT/SIGTERM to the
// workers and waits for them. If a worker dies on its own, the parent stops
// the others and fails, rather than serve on with a silent hole.
#pragma once

#include <functional>
#include <string>

#include "net/fd.hpp"

namespace iomodels::loop {

// The work of one worker process. It calls ready() once it is listening and
// returns its exit status when it has stopped.
using WorkerMain = std::function<int(int worker, const std::function<void()>& ready)>;

// probe: a SO_REUSEPORT listener the parent bound to find (and hold) the
// port; it is closed once the workers listen. model names the server in its
// messages. Returns the exit status.
int run_worker_processes(const std::string& model, int count, Fd probe,
                         const WorkerMain& worker_main);

}  // namespace iomodels::loop
