#include "loadgen/connect.hpp"

#include <netinet/in.h>
#include <strings.h>

#include <cerrno>

#include "loadgen/config.hpp"
#include "net/socket.hpp"

namespace iomodels::loadgen {

Connecting start_connection(const Address& target, const Address* source) {
  Connecting c;
  Fd fd(::socket(target.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    c.error = errno;
    return c;
  }
  set_nodelay(fd.get());
  if (source != nullptr) {
    // Without IP_BIND_ADDRESS_NO_PORT, bind() picks the port before the
    // destination is known, so every source address is limited to one
    // ephemeral range over all destinations; with it, the port is chosen at
    // connect() per (source, destination) pair.
    int one = 1;
    setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&source->addr), source->len) < 0) {
      c.error = errno;
      return c;
    }
  }
  const int rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&target.addr), target.len);
  if (rc < 0 && errno != EINPROGRESS) {
    c.error = errno;
    return c;
  }
  c.fd = std::move(fd);
  c.done = rc == 0;
  return c;
}

std::string build_request(const Config& c) {
  std::string r = c.method + " " + c.path + " HTTP/1.1\r\n";
  bool has_host = false;
  for (const auto& h : c.headers) {
    if (h.size() >= 5 && strncasecmp(h.c_str(), "host:", 5) == 0) has_host = true;
  }
  if (!has_host) r += "Host: " + c.host + ":" + std::to_string(c.port) + "\r\n";
  for (const auto& h : c.headers) r += h + "\r\n";
  if (!c.body.empty() || c.method == "POST")
    r += "Content-Length: " + std::to_string(c.body.size()) + "\r\n";
  r += "\r\n";
  r += c.body;
  return r;
}

}  // namespace iomodels::loadgen
