// server-blocking: one thread. accept() a client, serve it until it closes,
// then accept the next. Everyone else waits in the kernel's listen backlog:
// one slow client (or one /sleep) stalls them all, which is the point.
#include <cstdio>

#include "net/socket.hpp"
#include "servers/common/blocking_connection.hpp"
#include "servers/common/server_options.hpp"
#include "servers/common/shutdown.hpp"

using namespace iomodels;

int main(int argc, char** argv) {
  ServerCommandLine cli("blocking",
                        "One thread: accept a client, serve it (keep-alive, pipelining) until it "
                        "closes, then accept the next; the others wait in the listen backlog. "
                        "Every timeout is enforced with SO_RCVTIMEO/SO_SNDTIMEO on the one "
                        "connection; a client that stays silent (--first-byte-timeout-ms) or "
                        "does not read (--send-timeout-ms) holds the server until its timeout, "
                        "an idle keep-alive client for as long as it stays.");
  cli.add_blocking_timeouts();
  ServerOptions options = cli.parse(argc, argv);
  ignore_sigpipe();
  log_fd_limit(cli.model());
  shutdown::install_handlers();
  Fd listener = listen_or_exit(options.listen, cli.model());
  // SIGTERM shuts the watched listener down, which wakes the blocked accept().
  shutdown::watch(listener.get());
  announce_listening(listener.get());

  BlockingThread thread(options.session);
  while (!shutdown::requested()) {
    Fd client = accept_blocking(listener.get(), cli.model());
    if (client) serve_blocking_connection(std::move(client), thread);
  }
  shutdown::unwatch(listener.get());
  std::fprintf(stderr, "server-blocking: %s\n", http::describe(thread.counters()).c_str());
  return 0;
}
