#include "servers/common/blocking_connection.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "net/socket.hpp"
#include "servers/common/shutdown.hpp"
#include "servers/common/simulated_work.hpp"

namespace iomodels {
namespace {

using http::Clock;
using http::Do;

// iovecs per writev: many pipelined answers, or a /bytes body, in one call.
constexpr int kMaxIov = 64;

// A blocking read() or write() that gives up at the step's deadline:
// SO_RCVTIMEO and SO_SNDTIMEO. Set only while a deadline runs, and cleared
// after, so the common path (no deadline) costs no extra system call.
class SocketDeadlines {
 public:
  explicit SocketDeadlines(int fd) : fd_(fd) {}

  void before_read(Clock::time_point deadline) { apply(SO_RCVTIMEO, reading_, deadline); }
  void before_write(Clock::time_point deadline) { apply(SO_SNDTIMEO, writing_, deadline); }

 private:
  void apply(int option, bool& armed, Clock::time_point deadline) {
    if (deadline == http::kNoDeadline && !armed) return;
    armed = deadline != http::kNoDeadline;
    std::chrono::milliseconds left{0};  // 0: no timeout
    if (armed) {
      left = std::max(std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()),
                      std::chrono::milliseconds(1));
    }
    timeval tv{};
    tv.tv_sec = left.count() / 1000;
    tv.tv_usec = (left.count() % 1000) * 1000;
    setsockopt(fd_, SOL_SOCKET, option, &tv, sizeof tv);
  }

  int fd_;
  bool reading_ = false;
  bool writing_ = false;
};

void write_owed(int fd, http::Session& session, SocketDeadlines& deadlines,
                Clock::time_point deadline) {
  deadlines.before_write(deadline);
  iovec iov[kMaxIov];
  const int count = session.gather(iov, kMaxIov);
  IoResult r = writev_some(fd, iov, count);
  if (r.status == IoStatus::Ok) return session.sent(r.bytes);
  if (r.status == IoStatus::Again) return session.expired(Clock::now());  // SO_SNDTIMEO
  session.failed();  // the peer is gone, or shutdown() from the signal handler
}

void read_input(int fd, http::Session& session, std::span<char> buffer, SocketDeadlines& deadlines,
                Clock::time_point deadline) {
  deadlines.before_read(deadline);
  IoResult r = read_some(fd, buffer);
  switch (r.status) {
    case IoStatus::Ok:
      return session.received(buffer.first(r.bytes), Clock::now());
    case IoStatus::Again:  // SO_RCVTIMEO: the deadline has come
      return session.expired(Clock::now());
    case IoStatus::Closed:  // EOF, or shutdown() from the signal handler
      return session.end_of_input(Clock::now());
    case IoStatus::Error:
      return session.failed();
  }
}

// The session's steps, carried out by this thread until Close (or SIGTERM,
// whose handler shuts the watched socket down: a blocked read or write
// returns at once).
void drive(Fd connection, http::Session& session, BlockingThread& thread) {
  const int fd = connection.get();
  shutdown::watch(fd);
  SocketDeadlines deadlines(fd);
  bool done = false;
  while (!done && !shutdown::requested()) {
    const http::Step step = session.next(Clock::now());
    switch (step.what) {
      case Do::Write:
        write_owed(fd, session, deadlines, step.deadline);
        break;
      case Do::BurnCpu:
        done = !stoppable_burn_cpu(step.cpu_us);
        if (!done) session.work_done(Clock::now());
        break;
      case Do::ShutdownWrite:
        ::shutdown(fd, SHUT_WR);
        break;
      case Do::Wait:
        if (step.read) {
          read_input(fd, session, thread.read_buffer(), deadlines, step.deadline);
        } else {
          // A /sleep. (A wait for nothing at all cannot come: /cpu burns on
          // this thread, so no work is ever out elsewhere.)
          done = step.deadline == http::kNoDeadline || !stoppable_sleep_until(step.deadline);
          if (!done) session.expired(Clock::now());
        }
        break;
      case Do::Close:
        done = true;
        break;
    }
  }
  shutdown::unwatch(fd);
  // connection's destructor closes the socket.
}

}  // namespace

BlockingThread::BlockingThread(const http::SessionConfig& config)
    : context_(config), buffer_(std::make_unique_for_overwrite<char[]>(kReadBuffer)) {}

void serve_blocking_connection(Fd connection, BlockingThread& thread) {
  set_nodelay(connection.get());
  http::Session session(thread.context(), Clock::now());
  drive(std::move(connection), session, thread);
}

void close_refused_connection(Fd connection, BlockingThread& thread) {
  http::Session session(thread.context(), Clock::now());
  session.close_gracefully();
  drive(std::move(connection), session, thread);
}

Fd accept_blocking(int listener, std::string_view model) {
  Fd client(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (!client && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)) {
    // The client stays in the backlog until a connection closes and frees a
    // descriptor. Retrying at once would spin, so wait a little.
    const int error = errno;
    static Clock::time_point last_said;
    if (Clock::now() - last_said >= std::chrono::seconds(1)) {
      last_said = Clock::now();
      std::fprintf(stderr, "server-%.*s: accept: %s; retrying every 100 ms\n",
                   static_cast<int>(model.size()), model.data(), std::strerror(error));
    }
    stoppable_sleep_until(Clock::now() + std::chrono::milliseconds(100));
  }
  // Anything else (ECONNABORTED, EINTR, EINVAL once the listener was shut
  // down) concerns one client, or is the stop the caller's loop checks for.
  return client;
}

}  // namespace iomodels
