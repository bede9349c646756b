// server-uring: the protocol on io_uring, one ring in one thread.
//
// Reading order for a workshop:
//   main.cpp        the command line and the start-up probe
//   proactor.*      one ring and everything it serves: submit, wait, dispatch
//   connection.*    one client: the session's steps as kernel operations
//   acceptor.*      multishot accept, and the pause after EMFILE
//   ring.*          the io_uring instance and its provided buffers
//   operation.hpp   the tag every submission carries back
// The protocol (the session: parsing, answers, deadlines) is the shared
// library's; what is here is only how the server waits for I/O.
#include <cstdio>
#include <exception>

#include "net/socket.hpp"
#include "servers/common/server_options.hpp"
#include "servers/common/shutdown.hpp"
#include "servers/uring/proactor.hpp"
#include "servers/uring/ring.hpp"

using namespace iomodels;

int main(int argc, char** argv) {
  ServerCommandLine cli(
      "uring",
      "Completion-based I/O with io_uring (Linux 5.19+): one thread hands the kernel\n"
      "its accepts, receives, sends and timers and is told when they are done.\n"
      "/sleep is a kernel timeout; /cpu stalls the thread, as in an epoll loop.");
  cli.model_options().add_options()(
      "probe", "check that this kernel can run server-uring, say so and exit (0 yes, 2 no)");
  ServerOptions options = cli.parse(argc, argv);

  // Checked before anything else, so an unsupported kernel (or a container
  // whose seccomp profile forbids io_uring) gets one clear line and exit 2.
  const std::string missing = uring::unsupported_reason();
  if (cli.values().count("probe")) {
    if (!missing.empty()) cli.fail("io_uring not usable: " + missing);
    std::printf("server-uring: io_uring usable on this kernel\n");
    return 0;
  }
  if (!missing.empty()) cli.fail("io_uring not usable: " + missing);

  ignore_sigpipe();
  log_fd_limit(cli.model());
  shutdown::install_handlers();
  Fd listener = listen_or_exit(options.listen, cli.model());
  const int listen_fd = listener.get();
  try {
    uring::Proactor proactor(std::move(listener), options.session);
    announce_listening(listen_fd);
    return proactor.run();
  } catch (const std::exception& e) {
    // The ring or its buffers could not be set up (RLIMIT_MEMLOCK on old
    // kernels, io_uring disabled after the probe): a start-up failure.
    cli.fail(e.what());
  }
}
