// server-poll: the shared event loop (servers/event_loop/) over poll(2).
// The loop, the connections and the command line are server-epoll's; this
// folder is only the poller, so diffing it with servers/epoll/ shows the
// one difference: how the kernel is asked what is ready.
#include <memory>

#include "servers/event_loop/loop_server.hpp"
#include "servers/poll/poll_poller.hpp"

int main(int argc, char** argv) {
  return iomodels::loop::run_loop_server(
      argc, argv,
      {.name = "poll",
       .summary = "Non-blocking sockets and poll(2) (level-triggered): the event loop of\n"
                  "server-epoll, but every wait hands the kernel the whole list of watched\n"
                  "descriptors and walks it back, so a wait costs in proportion to the\n"
                  "connections held, idle or not. --reactors, --offload, --processes and\n"
                  "--max-connections as in server-epoll. --header-timeout-ms and\n"
                  "--body-timeout-ms are enforced (408).",
       .make_poller = [] { return std::make_unique<iomodels::poll::PollPoller>(); }});
}
