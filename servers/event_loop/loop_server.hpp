// The main() of every readiness model: server-epoll, server-poll and
// server-select differ only in the Poller they hand over here.
//
// Reading order for a workshop (this folder is shared; each model's own
// folder holds its main.cpp and its poller, nothing else):
//   loop_server.*      options, then reactors (threads) or worker processes
//   reactor.*          one loop and everything it serves
//   event_loop.*       the poller's wait, the ready handlers, the timers
//   poller.hpp         the seam: readiness bits of our own, one backend each
//   connection.*       one client: the session's steps under readiness
//   acceptor.*         new connections; the EMFILE reserve-fd trick
//   timer_heap.*       the timers behind the poller's timeout
//   cpu_offload.*      --offload: /cpu on worker threads, results via eventfd
//   worker_processes.* --processes: nginx's master and workers
// The protocol (the session: parsing, answers, deadlines) is the shared
// library's; what is here is only how the server waits for I/O.
#pragma once

#include <functional>
#include <memory>

#include "servers/event_loop/poller.hpp"

namespace iomodels::loop {

struct LoopModel {
  const char* name;     // "epoll": the executable is server-<name>
  const char* summary;  // the --help paragraph
  // A poller for one loop (each reactor has its own); throws
  // std::system_error if the kernel refuses one.
  std::function<std::unique_ptr<Poller>()> make_poller;
};

// Parses the command line and serves until SIGINT/SIGTERM; the exit status.
int run_loop_server(int argc, char** argv, const LoopModel& model);

}  // namespace iomodels::loop
