#include "servers/event_loop/connection.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include "net/socket.hpp"
#include "servers/common/simulated_work.hpp"
#include "servers/event_loop/reactor.hpp"

namespace iomodels::loop {
namespace {

using http::Do;

// iovecs per writev: many pipelined responses, or a /bytes body, in one call.
constexpr int kMaxIov = 64;

}  // namespace

Connection::Connection(Reactor& reactor, Fd fd, std::uint32_t serial)
    : fd_(std::move(fd)),
      serial_(serial),
      reactor_(reactor),
      session_(reactor.sessions(), reactor.loop().now()) {}

bool Connection::start() {
  watching_ = kReadable;
  return reactor_.loop().watch(fd_.get(), kReadable, *this);
}

void Connection::on_ready(std::uint8_t events) {
  // Closed earlier in this turn of the loop (the object lives until its end).
  if (!fd_) return;
  // A reset, or both directions shut down: nobody is left to answer. epoll
  // and poll report these even with no interest, so they must close.
  if (events & kBroken) {
    session_.failed();
  } else if (events & kReadable) {
    read();
  }
  proceed();
}

void Connection::on_timer() {
  session_.expired(reactor_.loop().now());
  proceed();
}

void Connection::finish_cpu_work() {
  session_.work_done(reactor_.loop().now());
  proceed();
}

void Connection::read() {
  std::span<char> buffer = reactor_.read_buffer();
  IoResult r = read_some(fd_.get(), buffer);
  switch (r.status) {
    case IoStatus::Ok:
      return session_.received(buffer.first(r.bytes), reactor_.loop().now());
    case IoStatus::Again:  // nothing after all
      return;
    case IoStatus::Closed:
      // EOF: the client sends no more, but may still be reading what we owe
      // it (a client that half-closes after its requests).
      return session_.end_of_input(reactor_.loop().now());
    case IoStatus::Error:
      return session_.failed();
  }
}

// Writes what the socket takes without blocking. True if it took everything
// offered (the next step may follow at once), false if it is full: a partial
// write is normal, the rest waits in the session and writable is watched.
bool Connection::write() {
  iovec iov[kMaxIov];
  const int count = session_.gather(iov, kMaxIov);
  std::size_t offered = 0;
  for (int i = 0; i < count; ++i) offered += iov[i].iov_len;
  // The common case, one response in one buffer, goes through plain write():
  // writev() first copies and checks the iovec array, a small cost paid on
  // every request.
  IoResult r = count == 1 ? write_some(fd_.get(),
                                       {static_cast<const char*>(iov[0].iov_base), iov[0].iov_len})
                          : writev_some(fd_.get(), iov, count);
  if (r.status == IoStatus::Ok) {
    session_.sent(r.bytes);
    // Short: the socket buffer is full, and another try now would only
    // return EAGAIN, one wasted system call.
    return r.bytes == offered;
  }
  if (r.status == IoStatus::Again) {
    session_.sent(0);
    return false;
  }
  session_.failed();  // the peer is gone: the next step is Close
  return true;
}

// After anything happened: the session's steps, until one has to wait.
void Connection::proceed() {
  for (;;) {
    const http::Step step = session_.next(reactor_.loop().now());
    switch (step.what) {
      case Do::Write:
        if (write()) continue;
        return wait(step, /*writing=*/true);
      case Do::BurnCpu:
        if (reactor_.offloading()) {
          reactor_.offload_cpu(*this, step.cpu_us);
          continue;
        }
        // Without --offload the work runs right here, on the loop's thread,
        // and every other connection of this loop waits until it is done.
        // That is the honest cost of a single-threaded event loop, not a bug
        // to hide.
        stoppable_burn_cpu(step.cpu_us);
        reactor_.loop().update_time();  // the clock read at wake-up is stale now
        session_.work_done(reactor_.loop().now());
        continue;
      case Do::ShutdownWrite:
        ::shutdown(fd_.get(), SHUT_WR);
        continue;
      case Do::Wait:
        return wait(step, /*writing=*/false);
      case Do::Close:
        return close();
    }
  }
}

// The poller is told only when the interest changes (epoll_ctl is a system
// call), and the timer only when the deadline does: on a keep-alive connection whose responses fit
// the socket buffer, neither after the first request.
void Connection::wait(const http::Step& step, bool writing) {
  std::uint8_t wanted = 0;
  if (step.read) wanted |= kReadable;
  if (writing) wanted |= kWritable;
  if (wanted != watching_) {
    watching_ = wanted;
    reactor_.loop().change(fd_.get(), wanted, *this);
  }
  if (step.deadline == http::kNoDeadline) {
    reactor_.loop().cancel_timer(*this);
  } else if (!timer_armed() || timer_deadline() != step.deadline) {
    reactor_.loop().arm_timer_at(*this, step.deadline);
  }
}

void Connection::close() {
  reactor_.loop().cancel_timer(*this);
  const int fd = fd_.get();
  reactor_.loop().unwatch(fd);
  fd_.reset();
  reactor_.retire(fd);
}

}  // namespace iomodels::loop
