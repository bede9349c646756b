#include "microbench/proc_memory.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace iomodels::microbench {

namespace {

// "VmRSS:     1234 kB" -> 1234 * 1024
std::optional<std::uint64_t> kib_field(const char* path, const std::string& field) {
  std::ifstream in(path);
  std::string line;
  const std::string key = field + ":";
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) != 0) continue;
    std::istringstream rest(line.substr(key.size()));
    std::uint64_t kib = 0;
    rest >> kib;
    return kib * 1024;
  }
  return std::nullopt;
}

}  // namespace

ProcessMemory process_memory() {
  return {kib_field("/proc/self/status", "VmRSS").value_or(0),
          kib_field("/proc/self/status", "VmSize").value_or(0)};
}

std::uint64_t meminfo_bytes(const std::string& field) {
  return kib_field("/proc/meminfo", field).value_or(0);
}

std::optional<std::map<std::string, SlabCache>> read_slabinfo() {
  std::ifstream in("/proc/slabinfo");
  if (!in) return std::nullopt;
  std::map<std::string, SlabCache> caches;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.starts_with("slabinfo") || line.starts_with("#")) continue;
    std::istringstream fields(line);
    std::string name;
    SlabCache cache;
    if (fields >> name >> cache.active_objects >> cache.total_objects >> cache.object_size) {
      caches[name] = cache;
    }
  }
  // An unprivileged read opens the file but yields nothing.
  if (caches.empty()) return std::nullopt;
  return caches;
}

std::optional<SlabIdentity> slab_identity(const std::string& cache,
                                          const std::map<std::string, SlabCache>& slabinfo) {
  namespace fs = std::filesystem;
  const fs::path dir = "/sys/kernel/slab";
  std::error_code ec;
  const fs::path entry = dir / cache;
  if (!fs::exists(entry, ec)) {
    // No sysfs view of SLUB: trust /proc/slabinfo as it stands.
    if (slabinfo.contains(cache)) return SlabIdentity{cache, {}};
    return std::nullopt;
  }
  if (!fs::is_symlink(entry, ec)) return SlabIdentity{cache, {}};

  // Every name of a merged cache, its first one included, is a symlink to the
  // shared directory; /proc/slabinfo shows the cache under one of them.
  const fs::path target = fs::read_symlink(entry, ec).filename();
  SlabIdentity identity;
  std::vector<std::string> names;
  for (const auto& other : fs::directory_iterator(dir, ec)) {
    if (!other.is_symlink(ec)) continue;
    if (fs::read_symlink(other.path(), ec).filename() != target) continue;
    names.push_back(other.path().filename().string());
  }
  for (const auto& name : names) {
    if (slabinfo.contains(name)) identity.shown_as = name;
    if (name != cache) identity.sharers.push_back(name);
  }
  if (identity.shown_as.empty()) return std::nullopt;
  return identity;
}

std::uint64_t slab_bytes_in_use(const std::map<std::string, SlabCache>& slabinfo) {
  std::uint64_t total = 0;
  for (const auto& [name, cache] : slabinfo) total += cache.active_objects * cache.object_size;
  return total;
}

}  // namespace iomodels::microbench
