// server-blocking: one thread. accept() a client, serve it until it closes,
// then accept the next. Everyone else waits in the kernel's listen backlog:
// one slow client (or one /sleep) stalls them all, which is the point.
#include "net/socket.hpp"
#include "servers/common/blocking_session.hpp"
#include "servers/common/server_options.hpp"
#include "servers/common/shutdown.hpp"

using namespace iomodels;

int main(int argc, char** argv) {
  ServerCommandLine cli("blocking",
                        "One thread: accept a client, serve it (keep-alive, pipelining) until it "
                        "closes, then accept the next; the others wait in the listen backlog. "
                        "--header-timeout-ms is enforced (SO_RCVTIMEO on the one connection).");
  ServerOptions options = cli.parse(argc, argv);
  ignore_sigpipe();
  log_fd_limit(cli.model());
  shutdown::install_handlers();
  Fd listener = listen_or_exit(options.listen, cli.model());
  // SIGTERM shuts the watched listener down, which wakes the blocked accept().
  shutdown::watch(listener.get());
  announce_listening(listener.get());

  const SessionConfig session{.limits = options.limits,
                              .header_timeout_ms = options.header_timeout_ms,
                              .server_name = cli.server_name()};
  while (!shutdown::requested()) {
    Fd client = accept_blocking(listener.get(), cli.model());
    if (client) serve_blocking_connection(std::move(client), session);
  }
  shutdown::unwatch(listener.get());
  return 0;
}
