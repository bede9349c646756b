#include "servers/event_loop/loop_server.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "net/socket.hpp"
#include "servers/common/server_options.hpp"
#include "servers/common/shutdown.hpp"
#include "servers/event_loop/config.hpp"
#include "servers/event_loop/reactor.hpp"
#include "servers/event_loop/worker_processes.hpp"

namespace po = boost::program_options;

namespace iomodels::loop {
namespace {

// File descriptors a process needs besides its connections: stdio, the
// shutdown eventfd, and per reactor its poller (an epoll set), listener,
// reserve fd and eventfd, with room to spare.
std::uint64_t fds_for_the_server(int reactors) {
  return 16 + 4 * static_cast<std::uint64_t>(reactors);
}

// SO_REUSEPORT lets any socket of the same user join a port: a second
// server started by mistake on the same port would silently take part of the
// connections instead of failing. A plain bind, closed at once, fails (exit 2,
// "port in use") if anything already listens there.
void exit_if_port_taken(const ListenOptions& listen, const std::string& model) {
  if (listen.port == 0) return;
  ListenOptions exclusive = listen;
  exclusive.reuse_port = false;
  listen_or_exit(exclusive, model);
}

// Runs this process's reactors until SIGINT/SIGTERM; calls on_listening once
// every listener is bound. Returns the exit status.
int serve(const LoopConfig& config, const LoopModel& model,
          const std::function<void(int listen_fd)>& on_listening) {
  ListenOptions listen = config.server.listen;
  listen.nonblocking = true;
  listen.reuse_port = config.reactors > 1 || config.processes > 1;

  // (A worker process is spared the check: the parent made it, and its probe
  // listener holds the port until the workers listen.)
  if (listen.reuse_port && config.processes == 1) exit_if_port_taken(listen, config.model);

  ConnectionLimit limit(config.max_connections);
  std::optional<CpuWorkerPool> offload;
  if (config.offload_threads > 0) offload.emplace(config.offload_threads);

  std::vector<std::unique_ptr<Reactor>> reactors;
  for (int i = 0; i < config.reactors; ++i) {
    Fd listener = listen_or_exit(listen, config.model);
    // With --port 0 the first listener gets a free port; the others join it.
    listen.port = local_port(listener.get());
    reactors.push_back(std::make_unique<Reactor>(
        i, config, model.make_poller(), std::move(listener), limit, offload ? &*offload : nullptr));
  }
  on_listening(reactors.front()->listen_fd());

  {
    // The main thread runs the first loop: with --reactors 1 there is no
    // other thread at all (but the --offload workers).
    std::vector<std::jthread> threads;
    for (std::size_t i = 1; i < reactors.size(); ++i) {
      threads.emplace_back([reactor = reactors[i].get()] { reactor->run(); });
    }
    reactors.front()->run();
  }  // joins the other loops
  // The workers post into the reactors' inboxes: they stop before those go.
  if (offload) offload->stop();
  for (const auto& reactor : reactors) reactor->log_counters();
  return 0;
}

LoopConfig parse_command_line(int argc, char** argv, const LoopModel& model) {
  ServerCommandLine command_line(model.name, model.summary);
  // Raised now so that --help can show the connection ceiling it implies.
  const std::uint64_t fd_limit = raise_fd_limit().soft;
  const std::string default_connections =
      std::to_string(fd_limit > fds_for_the_server(1) ? fd_limit - fds_for_the_server(1) : 1);
  command_line.model_options().add_options()(
      "reactors", po::value<int>()->default_value(1),
      "event loops, one thread each; 1 is the Node.js shape, N the nginx shape "
      "(each loop has its own SO_REUSEPORT listener)")(
      "offload", po::value<int>()->default_value(0),
      "worker threads for /cpu/{us}, its result posted back to the loop through an eventfd "
      "(libuv's thread pool); 0 runs /cpu on the loop, which stalls every connection of it")(
      "processes", po::value<int>()->default_value(1),
      "worker processes, each with its own listener(s) and loop(s) (nginx's master and "
      "workers); each process has the whole per-process fd limit to itself")(
      "max-connections", po::value<std::uint64_t>()->default_value(0),
      ("connections served at once per process; more wait in the listen backlog. "
       "0: the open-files limit minus the server's own fds (here: " +
       default_connections + " with 1 reactor)")
          .c_str());

  LoopConfig config;
  config.model = model.name;
  config.server = command_line.parse(argc, argv);
  const auto& values = command_line.values();
  config.reactors = values["reactors"].as<int>();
  config.offload_threads = values["offload"].as<int>();
  config.processes = values["processes"].as<int>();
  config.max_connections = values["max-connections"].as<std::uint64_t>();

  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (config.reactors < 1 || config.reactors > 64 * cores) {
    command_line.fail("--reactors must be between 1 and " + std::to_string(64 * cores));
  }
  if (config.offload_threads < 0 || config.offload_threads > 1024) {
    command_line.fail("--offload must be between 0 and 1024");
  }
  if (config.processes < 1 || config.processes > 64 * cores) {
    command_line.fail("--processes must be between 1 and " + std::to_string(64 * cores));
  }

  const std::uint64_t own = fds_for_the_server(config.reactors);
  const std::uint64_t ceiling = fd_limit > own ? fd_limit - own : 1;
  if (config.max_connections == 0) config.max_connections = ceiling;
  if (config.max_connections > ceiling) {
    std::fprintf(stderr,
                 "server-%s: --max-connections %llu is above what the fd limit allows (%llu); "
                 "expect the EMFILE path\n",
                 model.name, static_cast<unsigned long long>(config.max_connections),
                 static_cast<unsigned long long>(ceiling));
  }
  return config;
}

}  // namespace

int run_loop_server(int argc, char** argv, const LoopModel& model) {
  const LoopConfig config = parse_command_line(argc, argv, model);
  ignore_sigpipe();
  log_fd_limit(config.model);
  std::fprintf(stderr,
               "server-%s: %d process(es) x %d reactor(s), /cpu %s, at most %llu connections per "
               "process\n",
               model.name, config.processes, config.reactors,
               config.offload_threads > 0
                   ? ("on " + std::to_string(config.offload_threads) + " worker thread(s)").c_str()
                   : "on the loop",
               static_cast<unsigned long long>(config.max_connections));

  if (config.processes == 1) {
    shutdown::install_handlers();
    return serve(config, model, [](int listen_fd) { announce_listening(listen_fd); });
  }

  // The parent binds first: a port in use is reported here (exit 2), and
  // with --port 0 this picks the port every worker then joins.
  exit_if_port_taken(config.server.listen, config.model);
  ListenOptions probe_options = config.server.listen;
  probe_options.reuse_port = true;
  Fd probe = listen_or_exit(probe_options, config.model);
  LoopConfig worker_config = config;
  worker_config.server.listen.port = local_port(probe.get());
  return run_worker_processes(config.model, config.processes, std::move(probe),
                              [&](int, const std::function<void()>& ready) {
                                return serve(worker_config, model, [&ready](int) { ready(); });
                              });
}

}  // namespace iomodels::loop
