#include "servers/threaded/threaded_options.hpp"

#include <string>

namespace po = boost::program_options;

namespace iomodels {
namespace {

// Why 128 and not 2 x cores: a worker holds its client for the client's whole
// keep-alive life and spends nearly all of it blocked (waiting for the next
// request, or in /sleep), so the pool size is the number of clients served
// at once, not a CPU count. 2 x cores would serve 4 clients on a 2-core box
// and make the 5th wait however idle the CPUs are. An idle worker costs ~8 KiB
// of resident memory (RSS 4.2 / 5.2 / 12.7 MiB with --pool 1 / 128 / 1024,
// measured on the 2-core dev box) plus a kernel stack, so 128 costs about a
// MiB and serves a workshop's hundred-client demos; the bench sets --pool.
constexpr long long kDefaultPool = 128;
// As deep as the default --backlog: a burst of connects beyond the pool
// waits here, as it would in the kernel's queue, before anyone is refused.
constexpr long long kDefaultQueue = 4096;

// Sanity ceilings, far above what the kernel allows by default (threads-max,
// RLIMIT_NOFILE): a real limit shows up as a clear error when the threads
// are started.
constexpr long long kMaxThreads = 1'000'000;
constexpr long long kMaxQueue = 1'000'000;
constexpr long long kMaxStackKib = 1024 * 1024;

}  // namespace

const char* const kThreadedSummary =
    "Blocking I/O, one thread per connection: the main thread accepts and hands each "
    "connection to a worker thread that serves it (keep-alive, pipelining) until it closes. "
    "--pool N pre-starts N workers fed by a bounded accept queue (--queue); when all N are busy "
    "and the queue is full, a new connection is answered '503 Service Unavailable' with a "
    "lingering close, counted and logged at most once a second. --pool 0 starts a new thread for "
    "every connection instead (the classic model; 503 if a thread cannot be started). "
    "Every timeout is enforced with SO_RCVTIMEO/SO_SNDTIMEO on each connection; a client that "
    "stays silent (--first-byte-timeout-ms) or does not read (--send-timeout-ms) holds a worker "
    "until its timeout, an idle keep-alive client for as long as it stays.";

ThreadedOptions parse_threaded_options(ServerCommandLine& cli, int argc, char** argv) {
  cli.model_options().add_options()(
      "pool", po::value<long long>()->default_value(kDefaultPool),
      "worker threads started up front (one client each at a time; 128 because workers mostly "
      "block, so this is the number of clients served at once, not a CPU count); "
      "0 = a new thread per connection")(
      "queue", po::value<long long>()->default_value(kDefaultQueue),
      "accepted connections that may wait for a busy pool; beyond that: 503 "
      "(unused with --pool 0)")(
      "stack-kib", po::value<long long>()->default_value(0),
      "stack size of each connection thread in KiB; 0 = the C library's default (ulimit -s)");
  cli.add_blocking_timeouts();
  ThreadedOptions options;
  options.server = cli.parse(argc, argv);

  auto in_range = [&](const char* name, long long low, long long high) {
    return static_cast<std::size_t>(cli.in_range(name, low, high));
  };
  options.pool = in_range("pool", 0, kMaxThreads);
  options.queue = in_range("queue", 0, kMaxQueue);
  const std::size_t stack_kib = in_range("stack-kib", 0, kMaxStackKib);
  options.threads.stack_bytes = stack_kib * 1024;
  if (stack_kib != 0 && options.threads.stack_bytes < min_thread_stack_bytes()) {
    cli.fail("--stack-kib must be 0 or at least " +
             std::to_string(min_thread_stack_bytes() / 1024));
  }
  return options;
}

}  // namespace iomodels
