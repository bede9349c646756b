// server-epoll: non-blocking sockets and epoll; one event loop per thread.
// The loop, the connections and the command line are the readiness models'
// shared code (servers/event_loop/); this folder is only the poller.
#include <memory>

#include "servers/epoll/epoll_poller.hpp"
#include "servers/event_loop/loop_server.hpp"

int main(int argc, char** argv) {
  return iomodels::loop::run_loop_server(
      argc, argv,
      {.name = "epoll",
       .summary =
           "Non-blocking sockets and epoll (level-triggered): one event loop per thread\n"
           "holds thousands of connections, and a wait costs what is ready, not what is\n"
           "watched. --reactors 1 is the Node.js shape, --reactors N the nginx shape (one\n"
           "loop per core, each with its own SO_REUSEPORT listener). /sleep arms a timer and\n"
           "the loop serves others meanwhile; /cpu runs on the loop and stalls it, unless\n"
           "--offload hands it to worker threads. --header-timeout-ms and --body-timeout-ms\n"
           "are enforced (408).",
       .make_poller = [] { return std::make_unique<iomodels::epoll::EpollPoller>(); }});
}
