#include "loadgen/tests/test_server.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "net/socket.hpp"
#include "protocol/body_pattern.hpp"

namespace iomodels::loadgen::testing {
namespace {

std::int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

struct Pending {
  std::int64_t ready_ns;
  std::string bytes;
};

struct Conn {
  Fd fd;
  std::string in;
  std::size_t skip_body = 0;  // bytes of the current request's body still to skip
  std::deque<Pending> out;    // in request order; each sent once ready
  std::string sending;
  bool dead = false;
};

std::string response(int status, std::string_view body) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Error") +
                  "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  r += body;
  return r;
}

// The Content-Length of a request head, 0 without one.
std::size_t content_length(const std::string& head) {
  std::size_t at = 0;
  while ((at = head.find("\r\n", at)) != std::string::npos) {
    at += 2;
    if (head.compare(at, 15, "Content-Length:") == 0) return std::stoul(head.substr(at + 15));
  }
  return 0;
}

}  // namespace

TestServer::TestServer(Behaviour behaviour, int receive_buffer) : behaviour_(behaviour) {
  listener_ = listen_tcp({.host = "127.0.0.1", .port = 0, .backlog = 1024, .nonblocking = true});
  // Accepted sockets inherit it; set before any connection arrives.
  if (receive_buffer > 0)
    setsockopt(listener_.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  port_ = local_port(listener_.get());
  thread_ = std::thread([this] { serve(); });
}

TestServer::~TestServer() {
  stop_ = true;
  thread_.join();
}

void TestServer::stall_for_ms(int ms) {
  stalled_until_ns_ = monotonic_ns() + ms * 1'000'000LL;
}

void TestServer::serve() {
  std::vector<Conn> conns;
  std::vector<pollfd> fds;
  char buf[16384];
  while (!stop_) {
    const std::int64_t now = monotonic_ns();
    const bool stalled = now < stalled_until_ns_.load();
    fds.assign(1, {listener_.get(), POLLIN, 0});
    for (auto& c : conns) {
      short events = stalled ? 0 : POLLIN;
      if (!stalled && !c.sending.empty()) events |= POLLOUT;
      fds.push_back({c.fd.get(), events, 0});
    }
    // 1 ms: the resolution of /sleep and of the stall; fine for a test.
    poll(fds.data(), fds.size(), 1);
    if (fds[0].revents & POLLIN) {
      for (;;) {
        Fd fd(accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) break;
        set_nodelay(fd.get());
        conns.push_back(Conn{std::move(fd), {}, 0, {}, {}, false});
      }
    }
    if (stalled) continue;
    const std::int64_t t = monotonic_ns();
    for (std::size_t i = 0; i < conns.size(); ++i) {
      Conn& c = conns[i];
      const short revents = i + 1 < fds.size() ? fds[i + 1].revents : 0;
      if (revents & (POLLIN | POLLHUP | POLLERR)) {
        const IoResult r = read_some(c.fd.get(), buf);
        if (r.status == IoStatus::Ok)
          c.in.append(buf, r.bytes);
        else if (r.status != IoStatus::Again)
          c.dead = true;
      }
      std::size_t end;
      for (;;) {
        if (c.skip_body > 0) {
          const std::size_t n = std::min(c.skip_body, c.in.size());
          c.in.erase(0, n);
          c.skip_body -= n;
          if (c.skip_body > 0) break;
        }
        if (c.dead || (end = c.in.find("\r\n\r\n")) == std::string::npos) break;
        const std::string head = c.in.substr(0, end);
        c.in.erase(0, end + 4);
        c.skip_body = content_length(head);
        ++requests_;
        const bool head_only = head.compare(0, 5, "HEAD ") == 0;
        const auto sp1 = head.find(' ');
        const auto sp2 = head.find(' ', sp1 + 1);
        const std::string path = head.substr(sp1 + 1, sp2 - sp1 - 1);
        std::int64_t ready = t;
        std::string body = "ok";
        if (path.rfind("/sleep/", 0) == 0) ready += std::stoll(path.substr(7)) * 1'000'000;
        if (path.rfind("/bytes/", 0) == 0) {
          const std::size_t n = std::stoul(path.substr(7));
          body.clear();
          for (std::size_t k = 0; k < n; ++k) body += http::pattern_byte(k);
          if (behaviour_ == Behaviour::CorruptBody && n > 0) body[n / 2] ^= 1;
        }
        switch (behaviour_) {
          case Behaviour::Reset: {
            // SO_LINGER 0: close() sends RST instead of FIN.
            linger l{1, 0};
            setsockopt(c.fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
            c.dead = true;
            break;
          }
          case Behaviour::Garbage:
            c.out.push_back({ready, "garbage, not HTTP\r\n\r\n"});
            break;
          case Behaviour::Status500:
            c.out.push_back({ready, response(500, "no")});
            break;
          case Behaviour::Silent:
            break;
          case Behaviour::Continue100:
            c.out.push_back({ready, "HTTP/1.1 100 Continue\r\n\r\n" + response(200, body)});
            break;
          default: {
            std::string r = response(200, body);
            // HEAD: the GET's headers, Content-Length included, and no body.
            if (head_only) r.resize(r.size() - body.size());
            c.out.push_back({ready, r});
          }
        }
      }
      while (!c.out.empty() && c.out.front().ready_ns <= t) {
        c.sending += c.out.front().bytes;
        c.out.pop_front();
      }
      if (!c.dead && !c.sending.empty()) {
        const IoResult w = write_some(c.fd.get(), c.sending);
        if (w.status == IoStatus::Ok)
          c.sending.erase(0, w.bytes);
        else if (w.status != IoStatus::Again)
          c.dead = true;
      }
    }
    std::erase_if(conns, [](const Conn& c) { return c.dead; });
  }
}

}  // namespace iomodels::loadgen::testing
