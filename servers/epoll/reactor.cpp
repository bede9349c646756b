#include "servers/epoll/reactor.hpp"

#include <unistd.h>

#include <cstdio>

#include "net/socket.hpp"
#include "servers/common/shutdown.hpp"

namespace iomodels::epoll {

Reactor::Reactor(int index, const EpollConfig& config, Fd listener, ConnectionLimit& limit,
                 CpuWorkerPool* offload)
    : index_(index),
      config_(config),
      limit_(limit),
      offload_(offload),
      sessions_(config.server.session),
      acceptor_(loop_, std::move(listener), limit, counters_,
                [this](Fd fd) { add_connection(std::move(fd)); }),
      read_buffer_(std::make_unique_for_overwrite<char[]>(kReadBufferSize)) {
  if (!loop_.watch(shutdown::event_fd(), EPOLLIN, stop_on_shutdown_)) {
    throw std::system_error(errno, std::generic_category(), "epoll_ctl(shutdown eventfd)");
  }
  if (offload_ != nullptr) {
    inbox_.emplace(loop_, [this](const CpuJob& job) { finish_cpu_job(job); });
  }
}

void Reactor::run() {
  while (!loop_.stopped()) {
    loop_.run_once();
    // Connections closed during this turn are freed only now: an event
    // reported in the same epoll_wait batch may still point at one.
    retired_.clear();
  }
}

void Reactor::add_connection(Fd fd) {
  set_nodelay(fd.get());
  const auto slot = static_cast<std::size_t>(fd.get());
  if (slot >= connections_.size()) connections_.resize(std::max(slot + 1, connections_.size() * 2));
  auto connection = std::make_unique<Connection>(*this, std::move(fd), ++next_serial_);
  if (!connection->start()) {
    // The kernel refused the epoll registration (fs.epoll.max_user_watches,
    // or out of memory): drop this client rather than hold it unserved.
    std::perror("server-epoll: epoll_ctl(connection)");
    limit_.give_back();
    return;
  }
  connections_[slot] = std::move(connection);
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
  std::fprintf(
      stderr,
      "server-epoll: pid %d reactor %d: %s, %llu shed at the fd limit, %llu accept pauses\n",
      static_cast<int>(::getpid()), index_, http::describe(sessions_.counters).c_str(),
      n(counters_.shed), n(counters_.accept_pauses));
}

}  // namespace iomodels::epoll
