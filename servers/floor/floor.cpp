// floor-server: the least a server can do and still satisfy a benchmark of
// GET /hello. It reads, counts request ends ("\r\n\r\n") and writes one
// canned response per end: no parsing, no routing, no Date refresh, no
// limits. What it costs per request is (nearly) what the kernel costs per
// request -- the floor under every other bar of the bench, so the report can
// say how much of each request is ours.
//
// Not a server of the protocol: it must never be pointed at by the black-box
// suite (hence the name is not server-*). Bodies, /sleep, errors: ignored.
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "net/socket.hpp"
#include "servers/common/shutdown.hpp"

using namespace iomodels;

namespace {

// About the size of our servers' /hello response, so the byte counts match;
// the Date is frozen at start-up (refreshing it is work of a real server).
constexpr std::string_view kResponse =
    "HTTP/1.1 200 OK\r\nServer: floor\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\n"
    "Content-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

struct Connection {
  Fd fd;
  int matched = 0;     // how much of "\r\n\r\n" the last read ended with
  std::string unsent;  // what the socket did not take (a slow client)
  bool watching_out = false;
};

// Counts the request ends in data, carrying a partial match across reads.
int count_ends(std::string_view data, int& matched) {
  static constexpr char kEnd[] = "\r\n\r\n";
  int ends = 0;
  for (char c : data) {
    if (c == kEnd[matched]) {
      if (++matched == 4) ++ends, matched = 0;
    } else {
      matched = c == '\r' ? 1 : 0;
    }
  }
  return ends;
}

[[noreturn]] void usage(int status) {
  std::fprintf(status ? stderr : stdout,
               "usage: floor-server [--host H] [--port P]\n"
               "Answers every request end (\\r\\n\\r\\n) with a canned 200 \"Hello, World!\",\n"
               "parsing nothing: the kernel's cost per request, for the bench's floor.\n"
               "--port 0 picks a free port (see the 'listening on' line).\n");
  std::exit(status);
}

ListenOptions parse_args(int argc, char** argv) {
  ListenOptions options;
  options.nonblocking = true;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") usage(0);
    if ((arg != "--host" && arg != "--port") || i + 1 == argc) {
      std::fprintf(stderr, "floor-server: bad argument '%s' (try --help)\n", argv[i]);
      std::exit(2);
    }
    std::string value = argv[++i];
    if (arg == "--host") {
      options.host = value;
    } else {
      char* end = nullptr;
      unsigned long port = std::strtoul(value.c_str(), &end, 10);
      if (value.empty() || *end || port > 65535) {
        std::fprintf(stderr, "floor-server: bad port '%s'\n", value.c_str());
        std::exit(2);
      }
      options.port = static_cast<std::uint16_t>(port);
    }
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  ListenOptions options = parse_args(argc, argv);
  ignore_sigpipe();
  raise_fd_limit();
  shutdown::install_handlers();
  Fd listener;
  try {
    listener = listen_tcp(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "floor-server: %s\n", e.what());
    return 2;
  }

  Fd ep(epoll_create1(EPOLL_CLOEXEC));
  auto watch = [&](int fd, std::uint32_t events, int op) {
    epoll_event ev{events, {.fd = fd}};
    epoll_ctl(ep.get(), op, fd, &ev);
  };
  watch(listener.get(), EPOLLIN, EPOLL_CTL_ADD);
  watch(shutdown::event_fd(), EPOLLIN, EPOLL_CTL_ADD);
  std::vector<Connection> connections;  // indexed by fd, as redis's ae does
  std::string out;
  char buffer[16 * 1024];
  epoll_event events[256];

  std::printf("listening on %s\n", local_address(listener.get()).c_str());
  std::fflush(stdout);

  while (!shutdown::requested()) {
    int n = epoll_wait(ep.get(), events, 256, -1);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == shutdown::event_fd()) break;
      if (fd == listener.get()) {
        // EMFILE and friends: the connection stays in the backlog and the
        // listener readable, so the floor spins until a descriptor frees up.
        // Our servers must not (SPEC §3); a floor is only run below the limit.
        int c = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) continue;
        set_nodelay(c);
        if (connections.size() <= static_cast<std::size_t>(c)) connections.resize(c + 1);
        connections[c] = Connection{};
        connections[c].fd = Fd(c);
        watch(c, EPOLLIN, EPOLL_CTL_ADD);
        continue;
      }
      Connection& conn = connections[fd];
      bool alive = true;
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        IoResult r = read_some(fd, {buffer, sizeof buffer});
        alive = r.status == IoStatus::Ok || r.status == IoStatus::Again;
        for (int ends = count_ends({buffer, r.bytes}, conn.matched); ends > 0; --ends)
          conn.unsent.append(kResponse);
      }
      if (alive && !conn.unsent.empty()) {
        IoResult w = write_some(fd, conn.unsent);
        alive = w.status == IoStatus::Ok || w.status == IoStatus::Again;
        conn.unsent.erase(0, w.bytes);
      }
      // Only a change of interest costs an epoll_ctl: the common case (all
      // written at once) is one read and one write per request, nothing else.
      if (alive && conn.watching_out != !conn.unsent.empty()) {
        conn.watching_out = !conn.unsent.empty();
        watch(fd, conn.watching_out ? EPOLLIN | EPOLLOUT : EPOLLIN, EPOLL_CTL_MOD);
      }
      if (!alive) connections[fd] = Connection{};  // closing removes it from epoll
    }
  }
  return 0;
}
