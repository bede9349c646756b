// Readers of the kernel's memory accounting, for the benchmarks that count
// bytes rather than time: /proc/self/status (this process), /proc/meminfo
// (the whole machine) and /proc/slabinfo (per kernel object cache).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace iomodels::microbench {

// VmRSS and VmSize of this process, in bytes.
struct ProcessMemory {
  std::uint64_t rss_bytes = 0;
  std::uint64_t virtual_bytes = 0;
};
ProcessMemory process_memory();

// One field of /proc/meminfo ("Slab", "KernelStack", ...) in bytes; 0 if the
// field does not exist.
std::uint64_t meminfo_bytes(const std::string& field);

struct SlabCache {
  std::uint64_t active_objects = 0;
  std::uint64_t total_objects = 0;
  std::uint64_t object_size = 0;  // bytes, padding included
};

// /proc/slabinfo by cache name; nullopt when it is not readable (it is
// root-only since Linux 2.6.?? and absent without CONFIG_SLUB_DEBUG).
std::optional<std::map<std::string, SlabCache>> read_slabinfo();

// SLUB merges caches whose objects have the same size and flags: on such a
// kernel `eventpoll_epi` may not be a cache of its own, and the objects are
// counted under another name in /proc/slabinfo, together with strangers'.
struct SlabIdentity {
  std::string shown_as;              // the /proc/slabinfo line that counts it
  std::vector<std::string> sharers;  // other caches merged into the same one
  bool merged() const { return !sharers.empty(); }
};
// Finds out through /sys/kernel/slab, where a merged cache is a symlink to a
// shared ":A-0000128"-style directory; nullopt if the cache is unknown.
std::optional<SlabIdentity> slab_identity(const std::string& cache,
                                          const std::map<std::string, SlabCache>& slabinfo);

// Bytes of all objects in use, over every cache: a cross-check of the one
// cache that should grow, since merged caches also count others' objects.
std::uint64_t slab_bytes_in_use(const std::map<std::string, SlabCache>& slabinfo);

}  // namespace iomodels::microbench
