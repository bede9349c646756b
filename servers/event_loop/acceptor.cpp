#include "servers/event_loop/acceptor.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>

namespace iomodels::loop {
namespace {

// At most this many accepts per wake-up, so that a flood of new connections
// cannot starve the connections this loop already serves.
constexpr int kAcceptBatch = 64;

// How long the listener is ignored when accepting is pointless for now.
// Connections meanwhile wait in the kernel's listen backlog.
constexpr auto kPause = std::chrono::milliseconds(100);

Fd open_reserve() {
  return Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

}  // namespace

Acceptor::Acceptor(EventLoop& loop, Fd listener, ConnectionLimit& limit, Counters& counters,
                   const std::string& model, OnConnection on_connection)
    : loop_(loop),
      listener_(std::move(listener)),
      reserve_(open_reserve()),
      limit_(limit),
      counters_(counters),
      model_(model),
      on_connection_(std::move(on_connection)) {
  if (!reserve_) throw std::system_error(errno, std::generic_category(), "open(/dev/null)");
  if (!loop_.watch(listener_.get(), kReadable, *this)) {
    throw std::system_error(errno, std::generic_category(), "watching the listener");
  }
}

void Acceptor::on_ready(std::uint8_t) {
  for (int i = 0; i < kAcceptBatch; ++i) {
    if (!limit_.try_take()) {
      // --max-connections reached. Not an error: the waiting clients stay in
      // the backlog and are served as connections close.
      return pause();
    }
    int fd = accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      on_connection_(Fd(fd));
      continue;
    }
    const int error = errno;
    limit_.give_back();
    switch (error) {
      case EAGAIN:  // the backlog is empty: every waiting client is in
        return;
      case EINTR:
      case ECONNABORTED:  // that client gave up while waiting; the next may be fine
      case EPROTO:
      case EPERM:  // a firewall rule refused that one
        continue;
      case EMFILE:
      case ENFILE:
        // Out of file descriptors (EMFILE: this process; ENFILE: the whole
        // system). The waiting connection cannot be accepted, so the listener
        // stays readable, and a level-triggered loop would wake at once, fail
        // again, and spin at 100% CPU while the client waits for nothing.
        // Two defences:
        //  1. The reserve descriptor (libuv's trick; nginx's lore): a spare
        //     fd held from the start. Closing it frees exactly one slot,
        //     enough to accept the waiting client and close it at once: it
        //     learns now that we are full instead of at its own timeout.
        //  2. Then the listener is ignored for kPause: while the shortage
        //     lasts, the loop sheds one connection per pause, not per turn.
        // Its limits, admitted: with several reactors another thread may take
        // the freed slot first (we then only pause); under ENFILE any process
        // on the machine may; and a shed client gets a closed connection, not
        // an HTTP status. The real headroom is --max-connections, which stops
        // accepting before the fd limit is reached; this is the last resort.
        if (shed_one_connection()) ++counters_.shed;
        return pause();
      default:
        // ENOBUFS, ENOMEM: the kernel is short of memory. Retrying at once
        // would spin; a moment later it may have some.
        std::fprintf(stderr, "server-%s: accept: %s\n", model_.c_str(), std::strerror(error));
        return pause();
    }
  }
}

bool Acceptor::shed_one_connection() {
  if (!reserve_) reserve_ = open_reserve();  // lost to another thread last time?
  if (!reserve_) return false;
  reserve_.reset();
  Fd doomed(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  const bool shed = static_cast<bool>(doomed);
  doomed.reset();  // the client sees EOF
  reserve_ = open_reserve();
  return shed;
}

void Acceptor::pause() {
  ++counters_.accept_pauses;
  loop_.change(listener_.get(), 0, *this);
  loop_.arm_timer(*this, kPause);
}

void Acceptor::on_timer() {
  loop_.change(listener_.get(), kReadable, *this);
}

}  // namespace iomodels::loop
