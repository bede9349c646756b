// server-select: the shared event loop (servers/event_loop/) over select(2).
// The loop, the connections and the command line are server-epoll's; this
// folder is only the poller, and its honest limit: FD_SETSIZE.
#include <memory>

#include "servers/event_loop/loop_server.hpp"
#include "servers/select/select_poller.hpp"

int main(int argc, char** argv) {
  return iomodels::loop::run_loop_server(
      argc, argv,
      {.name = "select",
       .summary =
           "Non-blocking sockets and select(2) (level-triggered): the event loop of\n"
           "server-epoll, but every wait copies two bitmaps of the watched descriptors to\n"
           "the kernel and scans them back, so a wait costs in proportion to the highest\n"
           "descriptor. select() cannot watch a descriptor at or above FD_SETSIZE (1024): such\n"
           "a connection is answered 503 and closed, and the log says so (at most once a\n"
           "second). --reactors, --offload, --processes and --max-connections as in\n"
           "server-epoll. --header-timeout-ms and --body-timeout-ms are enforced (408).",
       .make_poller = [] { return std::make_unique<iomodels::select::SelectPoller>(); }});
}
