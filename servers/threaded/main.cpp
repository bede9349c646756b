// server-threaded: blocking I/O, one thread per connection. The acceptor
// (this main thread) hands each accepted connection to a worker thread, which
// serves it with plain blocking read()/write() until it closes: the code of a
// connection reads top to bottom, and every waiting client costs a thread.
#include <cstdio>
#include <memory>
#include <string>
#include <system_error>

#include "net/socket.hpp"
#include "servers/common/blocking_connection.hpp"
#include "servers/common/server_options.hpp"
#include "servers/common/shutdown.hpp"
#include "servers/threaded/rejecter.hpp"
#include "servers/threaded/threaded_options.hpp"
#include "servers/threaded/workers.hpp"

using namespace iomodels;

int main(int argc, char** argv) {
  ServerCommandLine cli("threaded", kThreadedSummary);
  const ThreadedOptions options = parse_threaded_options(cli, argc, argv);
  ignore_sigpipe();
  log_fd_limit(cli.model());
  shutdown::install_handlers();
  Fd listener = listen_or_exit(options.server.listen, cli.model());
  // SIGTERM shuts the watched listener down, which wakes the blocked accept().
  shutdown::watch(listener.get());

  const http::SessionConfig& session = options.server.session;
  std::unique_ptr<Rejecter> rejecter;
  std::unique_ptr<Workers> workers;
  try {
    rejecter = std::make_unique<Rejecter>(session, options.threads);
    workers = options.pool == 0
                  ? make_thread_per_connection(options.threads, session)
                  : make_worker_pool(options.pool, options.queue, options.threads, session);
  } catch (const std::system_error& e) {
    cli.fail(std::string(e.what()) + " (a smaller --pool or --stack-kib may fit)");
  }
  const std::string queue = options.pool ? ", accept queue " + std::to_string(options.queue) : "";
  std::fprintf(stderr, "server-threaded: %s, %zu KiB of stack each%s\n",
               workers->describe().c_str(), thread_stack_bytes(options.threads) / 1024,
               queue.c_str());
  announce_listening(listener.get());

  while (!shutdown::requested()) {
    Fd client = accept_blocking(listener.get(), cli.model());
    if (client && !workers->take(client)) rejecter->reject(std::move(client));
  }
  shutdown::unwatch(listener.get());
  workers->stop_and_join();
  rejecter->stop();
  std::fprintf(stderr, "server-threaded: %s\n", http::describe(workers->counters()).c_str());
  return 0;
}
