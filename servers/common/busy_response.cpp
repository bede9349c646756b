#include "servers/common/busy_response.hpp"

#include <sys/socket.h>

#include "protocol/output_queue.hpp"
#include "protocol/router.hpp"

namespace iomodels {

void send_busy(int fd, std::string_view server_name, std::string_view why) {
  http::Response busy;
  busy.status = 503;
  busy.body = why;
  busy.close = true;
  http::OutputQueue out;
  http::serialize(busy, server_name, out);
  iovec iov[4];
  msghdr message{};
  message.msg_iov = iov;
  message.msg_iovlen = static_cast<std::size_t>(out.gather(iov, 4));
  // MSG_DONTWAIT: never block the caller on one client. MSG_NOSIGNAL: a
  // client that already left gives EPIPE, not SIGPIPE. A failure changes
  // nothing: the client is refused either way.
  [[maybe_unused]] ssize_t n = ::sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
}

}  // namespace iomodels
