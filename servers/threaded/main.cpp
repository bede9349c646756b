// server-threaded: blocking I/O, one thread per connection. The acceptor
// (this main thread) hands each accepted connection to a worker thread, which
// serves it with plain blocking read()/write() until it closes: the code of a
// connection reads top to bottom, and every waiting client costs a thread.
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>

#include "net/socket.hpp"
#include "servers/common/blocking_session.hpp"
#include "servers/common/server_options.hpp"
#include "servers/common/shutdown.hpp"
#include "servers/threaded/rejecter.hpp"
#include "servers/threaded/workers.hpp"

using namespace iomodels;
namespace po = boost::program_options;

namespace {

// Why 128 and not 2 x cores: a worker holds its client for the client's whole
// keep-alive life and spends nearly all of it blocked (waiting for the next
// request, or in /sleep), so the pool size is the number of clients served
// at once, not a CPU count. 2 x cores would serve 4 clients on a 2-core box
// and make the 5th wait however idle the CPUs are. An idle worker costs ~8 KiB
// of resident memory (RSS 4.2 / 5.2 / 12.7 MiB with --pool 1 / 128 / 1024,
// measured on the 2-core dev box) plus a kernel stack, so 128 costs about a
// MiB and serves a workshop's hundred-client demos; the bench sets --pool.
constexpr unsigned kDefaultPool = 128;
// As deep as the default --backlog: a burst of connects beyond the pool
// waits here, as it would in the kernel's queue, before anyone is refused.
constexpr std::size_t kDefaultQueue = 4096;

// Sanity ceilings for the options, far above what the kernel allows by
// default (threads-max, RLIMIT_NOFILE); a real limit shows up as a clear
// error when the threads are started.
constexpr long long kMaxThreads = 1'000'000;
constexpr long long kMaxQueue = 1'000'000;

const char* const kSummary =
    "Blocking I/O, one thread per connection: the main thread accepts and hands each "
    "connection to a worker thread that serves it (keep-alive, pipelining) until it closes. "
    "--pool N pre-starts N workers fed by a bounded accept queue (--queue); when all N are busy "
    "and the queue is full, a new connection is answered '503 Service Unavailable' with a "
    "lingering close, counted and logged at most once a second. --pool 0 starts a new thread for "
    "every connection instead (the classic model; 503 if a thread cannot be started). "
    "--header-timeout-ms is enforced (SO_RCVTIMEO on each connection).";

// Accepts the next connection; an invalid Fd when there is none for now.
Fd accept_next(int listener) {
  Fd client(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (!client && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)) {
    // Out of descriptors or memory: the client stays in the backlog until a
    // connection closes. Retrying at once would spin, so wait a little.
    std::fprintf(stderr, "server-threaded: accept: %s; retrying in 100 ms\n", std::strerror(errno));
    shutdown::sleep_ms(100);
  }
  // Anything else (ECONNABORTED, EINTR, EINVAL once the listener was shut
  // down) concerns one client, or is the stop the loop checks for.
  return client;
}

}  // namespace

int main(int argc, char** argv) {
  ServerCommandLine cli("threaded", kSummary);
  cli.model_options().add_options()
      ("pool", po::value<long long>()->default_value(kDefaultPool),
       "worker threads started up front (one client each at a time; 128 because workers mostly "
       "block, so this is the number of clients served at once, not a CPU count); "
       "0 = a new thread per connection")
      ("queue", po::value<long long>()->default_value(kDefaultQueue),
       "accepted connections that may wait for a busy pool; beyond that: 503 (ignored with --pool 0)")
      ("stack-kib", po::value<long long>()->default_value(0),
       "stack size of each connection thread in KiB; 0 = the C library's default (ulimit -s)");
  ServerOptions options = cli.parse(argc, argv);
  // Read as signed and checked here: Boost would turn "-1" into a huge
  // unsigned value.
  auto in_range = [&](const char* name, long long low, long long high) {
    long long value = cli.values()[name].as<long long>();
    if (value < low || value > high) {
      cli.fail("--" + std::string(name) + " must be between " + std::to_string(low) + " and " +
               std::to_string(high));
    }
    return static_cast<std::size_t>(value);
  };
  const std::size_t pool = in_range("pool", 0, kMaxThreads);
  const std::size_t queue = in_range("queue", 0, kMaxQueue);
  const std::size_t stack_kib = in_range("stack-kib", 0, 1024 * 1024);
  ThreadOptions threads{.stack_bytes = stack_kib * 1024};
  if (stack_kib != 0 && threads.stack_bytes < min_thread_stack_bytes()) {
    cli.fail("--stack-kib must be 0 or at least " + std::to_string(min_thread_stack_bytes() / 1024));
  }

  ignore_sigpipe();
  log_fd_limit(cli.model());
  shutdown::install_handlers();
  Fd listener = listen_or_exit(options.listen, cli.model());
  // SIGTERM shuts the watched listener down, which wakes the blocked accept().
  shutdown::watch(listener.get());

  const SessionConfig session{.limits = options.limits,
                              .header_timeout_ms = options.header_timeout_ms,
                              .server_name = cli.server_name()};
  std::unique_ptr<Workers> workers;
  std::unique_ptr<Rejecter> rejecter;
  try {
    rejecter = std::make_unique<Rejecter>(cli.server_name(), threads);
    workers = pool == 0 ? make_thread_per_connection(threads, session)
                        : make_worker_pool(pool, queue, threads, session);
  } catch (const std::system_error& e) {
    cli.fail(std::string(e.what()) + " (a smaller --pool or --stack-kib may fit)");
  }
  std::fprintf(stderr, "server-threaded: %s, %zu KiB of stack each%s\n",
               workers->describe().c_str(), thread_stack_bytes(threads) / 1024,
               pool ? (", accept queue " + std::to_string(queue)).c_str() : "");
  announce_listening(listener.get());

  while (!shutdown::requested()) {
    Fd client = accept_next(listener.get());
    if (client && !workers->take(client)) rejecter->reject(std::move(client));
  }
  shutdown::unwatch(listener.get());
  workers->stop_and_join();
  rejecter->stop();
  return 0;
}
