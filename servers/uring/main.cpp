// server-uring: the protocol on io_uring, one ring in one thread. See
// uring_server.hpp for the model; this file is the command line.
#include <cstdio>
#include <exception>

#include "net/socket.hpp"
#include "servers/common/server_options.hpp"
#include "servers/common/shutdown.hpp"
#include "servers/uring/ring.hpp"
#include "servers/uring/uring_server.hpp"

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
    uring::UringServer server(std::move(listener),
                              {options.session.limits, options.session.header_timeout_ms, cli.server_name()});
    announce_listening(listen_fd);
    return server.run();
  } catch (const std::exception& e) {
    // The ring or its buffers could not be set up (RLIMIT_MEMLOCK on old
    // kernels, io_uring disabled after the probe): a start-up failure.
    cli.fail(e.what());
  }
}
