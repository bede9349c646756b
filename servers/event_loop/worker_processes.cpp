#include "servers/event_loop/worker_processes.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "net/socket.hpp"

#include "servers/common/shutdown.hpp"

namespace iomodels::loop {
namespace {

void stop_all(const std::vector<pid_t>& workers) {
  for (pid_t pid : workers) {
    if (pid > 0) ::kill(pid, SIGTERM);
  }
}

// Waits for every worker still running; true if all exited with status 0.
bool wait_all(const std::string& model, std::vector<pid_t>& workers) {
  bool clean = true;
  for (std::size_t i = 0; i < workers.size(); ++i) {
    if (workers[i] <= 0) continue;
    int status = 0;
    while (::waitpid(workers[i], &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "server-%s: worker process %zu (pid %d) ended with status %d\n",
                   model.c_str(), i, workers[i],
                   WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
      clean = false;
    }
    workers[i] = 0;
  }
  return clean;
}

}  // namespace

int run_worker_processes(const std::string& model, int count, Fd probe,
                         const WorkerMain& worker_main) {
  // Blocked before fork, so that no signal is lost between a worker's birth
  // and its handler; the parent then takes them with sigwaitinfo().
  sigset_t signals, previous;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGCHLD);
  sigprocmask(SIG_BLOCK, &signals, &previous);

  // Each worker writes one byte here once it listens.
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) < 0) {
    std::perror(("server-" + model + ": pipe").c_str());
    return 1;
  }
  Fd ready_read(ends[0]), ready_write(ends[1]);

  const pid_t parent = ::getpid();
  std::vector<pid_t> workers(static_cast<std::size_t>(count), 0);
  std::fflush(nullptr);  // or buffered output would be written once per process
  for (int i = 0; i < count; ++i) {
    pid_t pid = ::fork();
    if (pid < 0) {
      std::perror(("server-" + model + ": fork").c_str());
      stop_all(workers);
      wait_all(model, workers);
      return 1;
    }
    if (pid == 0) {
      // If the parent dies without passing on a signal (SIGKILL, a crash),
      // the kernel sends its workers SIGTERM, so none is left serving alone.
      // The getppid() check covers a parent that died before the prctl.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) std::_Exit(1);
      // The worker: its own shutdown eventfd and handlers, then signals on.
      probe.reset();
      ready_read.reset();
      shutdown::install_handlers();
      sigprocmask(SIG_SETMASK, &previous, nullptr);
      int status = worker_main(i, [&ready_write] {
        char byte = 1;
        [[maybe_unused]] ssize_t n = ::write(ready_write.get(), &byte, 1);
        ready_write.reset();
      });
      std::fflush(nullptr);
      std::_Exit(status);  // not exit(): the parent's atexit work is not ours
    }
    workers[static_cast<std::size_t>(i)] = pid;
  }
  ready_write.reset();

  // All listening, or one of them died trying (EOF before count bytes).
  int listening = 0;
  char bytes[64];
  while (listening < count) {
    ssize_t n = ::read(ready_read.get(), bytes, sizeof bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    listening += static_cast<int>(n);
  }
  if (listening < count) {
    std::fprintf(stderr, "server-%s: a worker process failed to start\n", model.c_str());
    stop_all(workers);
    wait_all(model, workers);
    return 1;
  }
  // The probe is closed before anyone is told to connect: a connection the
  // kernel queued on it (SO_REUSEPORT spreads them over every listener of
  // the port) would be reset when it closed.
  const std::string address = local_address(probe.get());
  probe.reset();
  std::printf("listening on %s\n", address.c_str());  // as announce_listening() says it
  std::fflush(stdout);

  bool clean = true;
  for (;;) {
    siginfo_t info{};
    int signal = ::sigwaitinfo(&signals, &info);
    if (signal == SIGINT || signal == SIGTERM) break;
    if (signal != SIGCHLD) continue;  // EINTR
    // A worker ended without being asked to: stop the rest and fail.
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) continue;
    for (pid_t& worker : workers) {
      if (worker == pid) worker = 0;
    }
    std::fprintf(stderr, "server-%s: worker process %d ended unexpectedly; stopping\n",
                 model.c_str(), pid);
    clean = false;
    break;
  }
  stop_all(workers);
  clean = wait_all(model, workers) && clean;
  return clean ? 0 : 1;
}

}  // namespace iomodels::loop
