// Kernel memory per epoll watch and per idle TCP socket, from the kernel's own
// accounting: the object caches of /proc/slabinfo (eventpoll_epi: one per
// watch; eventpoll_pwq: one per wait queue a watch hooks, one for a socket;
// TCP: the socket itself) and, as a cross-check or where slabinfo is
// unreadable, the Slab line of /proc/meminfo.
//
// SLUB merges caches of equal object size: on Linux 6.x eventpoll_epi
// usually shares a 128-byte cache with strangers, and eventpoll_pwq a 64-byte
// one, so that the cache's line in /proc/slabinfo also counts other objects.
// The label says so, and the watches are added while nothing else of this
// process allocates, so that the delta is ours up to other processes' noise.
#include <benchmark/benchmark.h>
#include <sys/epoll.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "microbench/loopback_connections.hpp"
#include "microbench/proc_memory.hpp"
#include "net/socket.hpp"

namespace iomodels::microbench {
namespace {

// 5 000 connections: 10 000 sockets, the most a default ulimit of 20 000
// descriptors allows with room to spare; enough signal to drown the noise
// of the other processes' allocations.
constexpr std::size_t kConnections = 5000;

struct Snapshot {
  std::optional<std::map<std::string, SlabCache>> slabinfo = read_slabinfo();
  std::uint64_t meminfo_slab = meminfo_bytes("Slab");
};

// Objects and bytes that `cache` (or the cache it is merged into) gained.
struct CacheGrowth {
  double bytes = 0;
  std::string note;  // "eventpoll_epi" or "eventpoll_epi merged into ... (128 B)"
  bool measured = false;
};

CacheGrowth growth(const std::string& cache, const Snapshot& before, const Snapshot& after) {
  CacheGrowth result;
  if (!before.slabinfo || !after.slabinfo) {
    result.note = cache + ": /proc/slabinfo unreadable";
    return result;
  }
  const auto identity = slab_identity(cache, *after.slabinfo);
  if (!identity) {
    result.note = cache + ": not in /proc/slabinfo";
    return result;
  }
  const SlabCache& now = after.slabinfo->at(identity->shown_as);
  const auto it = before.slabinfo->find(identity->shown_as);
  const double objects_before = it == before.slabinfo->end() ? 0 : it->second.active_objects;
  result.bytes = (static_cast<double>(now.active_objects) - objects_before) *
                 static_cast<double>(now.object_size);
  result.measured = true;
  result.note = cache + " " + std::to_string(now.object_size) + "B";
  if (identity->merged()) {
    result.note += " merged with";
    for (const auto& sharer : identity->sharers) result.note += " " + sharer;
    result.note += ", shown as " + identity->shown_as;
  }
  return result;
}

double slab_total(const Snapshot& s) {
  return s.slabinfo ? static_cast<double>(slab_bytes_in_use(*s.slabinfo)) : 0;
}

void set_per(benchmark::State& state, const std::string& name, double bytes, double count) {
  state.counters[name] = bytes / count;
}

void BM_KernelMemoryPerEpollWatch(benchmark::State& state) {
  const auto connections = static_cast<std::size_t>(state.range(0));
  std::string label;
  for (auto _ : state) {
    try {
      // The readiness family's pool would hold half the descriptor budget.
      shared_idle_connections().clear();
      raise_fd_limit();
      LoopbackConnections idle(connections);
      Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
      const Snapshot before;
      for (const Fd& socket : idle.ends()) {
        epoll_event interest{.events = EPOLLIN, .data = {.fd = socket.get()}};
        if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, socket.get(), &interest) != 0) {
          throw std::system_error(errno, std::generic_category(), "epoll_ctl");
        }
      }
      const Snapshot after;
      const double watches = static_cast<double>(idle.ends().size());
      const CacheGrowth epi = growth("eventpoll_epi", before, after);
      const CacheGrowth pwq = growth("eventpoll_pwq", before, after);
      state.counters["watches"] = watches;
      set_per(state, "epi_bytes_per_watch", epi.bytes, watches);
      set_per(state, "pwq_bytes_per_watch", pwq.bytes, watches);
      set_per(state, "slabinfo_bytes_per_watch", slab_total(after) - slab_total(before), watches);
      set_per(state, "meminfo_slab_bytes_per_watch",
              static_cast<double>(after.meminfo_slab) - static_cast<double>(before.meminfo_slab),
              watches);
      state.counters["slabinfo_readable"] = before.slabinfo.has_value();
      label = epi.note + "; " + pwq.note;
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      return;
    }
  }
  state.SetLabel(label);
}
BENCHMARK(BM_KernelMemoryPerEpollWatch)
    ->ArgName("connections")
    ->Arg(kConnections)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

void BM_KernelMemoryPerIdleSocket(benchmark::State& state) {
  const auto connections = static_cast<std::size_t>(state.range(0));
  std::string label;
  for (auto _ : state) {
    try {
      shared_idle_connections().clear();
      raise_fd_limit();
      const Snapshot before;
      LoopbackConnections idle(connections);
      const Snapshot after;
      const double sockets = static_cast<double>(idle.ends().size());
      const CacheGrowth tcp = growth("TCP", before, after);
      state.counters["sockets"] = sockets;
      set_per(state, "tcp_slab_bytes_per_socket", tcp.bytes, sockets);
      // The socket's inode, file and dentry live in other caches.
      set_per(state, "slabinfo_bytes_per_socket", slab_total(after) - slab_total(before), sockets);
      set_per(state, "meminfo_slab_bytes_per_socket",
              static_cast<double>(after.meminfo_slab) - static_cast<double>(before.meminfo_slab),
              sockets);
      state.counters["slabinfo_readable"] = before.slabinfo.has_value();
      label = tcp.note;
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      return;
    }
  }
  state.SetLabel(label);
}
BENCHMARK(BM_KernelMemoryPerIdleSocket)
    ->ArgName("connections")
    ->Arg(kConnections)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace iomodels::microbench
