#include "servers/event_loop/reactor.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "net/socket.hpp"
#include "servers/common/busy_response.hpp"
#include "servers/common/shutdown.hpp"

namespace iomodels::loop {

Reactor::Reactor(int index, const LoopConfig& config, std::unique_ptr<Poller> poller, Fd listener,
                 ConnectionLimit& limit, CpuWorkerPool* offload)
    : index_(index),
      config_(config),
      limit_(limit),
      offload_(offload),
      sessions_(config.server.session),
      loop_(std::move(poller)),
      acceptor_(loop_, std::move(listener), limit, counters_, config.model,
                [this](Fd fd) { add_connection(std::move(fd)); }),
      read_buffer_(std::make_unique_for_overwrite<char[]>(kReadBufferSize)) {
  if (!loop_.watch(shutdown::event_fd(), kReadable, stop_on_shutdown_)) {
    throw std::system_error(errno, std::generic_category(), "watching the shutdown eventfd");
  }
  if (offload_ != nullptr) {
    inbox_.emplace(loop_, [this](const CpuJob& job) { finish_cpu_job(job); });
  }
}

void Reactor::run() {
  while (!loop_.stopped()) {
    loop_.run_once();
    // Connections closed during this turn are freed only now: an event
    // reported in the same wait's batch may still point at one.
    retired_.clear();
  }
}

void Reactor::add_connection(Fd fd) {
  // A descriptor the poller can never watch (select: FD_SETSIZE and above)
  // is refused, not watched wrongly: FD_SET beyond the set is undefined
  // behaviour, and glibc's fortified build aborts on it.
  if (const char* why = loop_.poller().cannot_watch(fd.get())) return refuse(std::move(fd), why);
  set_nodelay(fd.get());
  const auto slot = static_cast<std::size_t>(fd.get());
  if (slot >= connections_.size()) connections_.resize(std::max(slot + 1, connections_.size() * 2));
  auto connection = std::make_unique<Connection>(*this, std::move(fd), ++next_serial_);
  if (!connection->start()) {
    // The kernel refused to watch it (epoll at fs.epoll.max_user_watches, or
    // out of memory): refuse this client rather than hold it unserved.
    const int error = errno;
    return refuse(connection->release(), std::strerror(error));
  }
  connections_[slot] = std::move(connection);
}

void Reactor::refuse(Fd fd, const char* why) {
  // Overload made visible: the client hears 503 at once, the log says why
  // (at most once a second), and the count is printed at exit. No lingering
  // close: this loop cannot watch the descriptor. A request that arrives
  // after the close may make the kernel reset the connection, after the 503
  // and the FIN have been sent.
  send_busy(fd.get(), config_.server.session.server_name,
            "server busy: " + std::string(why) + "\n");
  ++counters_.refused;
  limit_.give_back();
  if (loop_.now() - last_refusal_said_ >= std::chrono::seconds(1)) {
    last_refusal_said_ = loop_.now();
    std::fprintf(stderr,
                 "server-%s: refused a connection on fd %d: %s; answered 503 and closed it (%llu "
                 "so far)\n",
                 config_.model.c_str(), fd.get(), why,
                 static_cast<unsigned long long>(counters_.refused));
  }
}

void Reactor::retire(int fd) {
  retired_.push_back(std::move(connections_[static_cast<std::size_t>(fd)]));
  limit_.give_back();
}

void Reactor::offload_cpu(const Connection& connection, std::uint32_t cpu_us) {
  offload_->submit(
      {.inbox = &*inbox_, .fd = connection.fd(), .serial = connection.serial(), .cpu_us = cpu_us});
}

void Reactor::finish_cpu_job(const CpuJob& job) {
  const auto slot = static_cast<std::size_t>(job.fd);
  // The client may have gone meanwhile, and its fd number may serve another.
  if (slot >= connections_.size() || !connections_[slot]) return;
  Connection& connection = *connections_[slot];
  if (connection.serial() == job.serial) connection.finish_cpu_work();
}

void Reactor::log_counters() const {
  auto n = [](std::uint64_t value) { return static_cast<unsigned long long>(value); };
  // With --processes every worker has its own reactor 0, 1, ...: the pid tells them apart.
  std::fprintf(stderr,
               "server-%s: pid %d reactor %d: %s, %llu refused (503), %llu shed at the fd limit, "
               "%llu accept pauses\n",
               config_.model.c_str(), static_cast<int>(::getpid()), index_,
               http::describe(sessions_.counters).c_str(), n(counters_.refused), n(counters_.shed),
               n(counters_.accept_pauses));
}

}  // namespace iomodels::loop
