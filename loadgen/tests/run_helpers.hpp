// What loadgen's run tests share: running the binary as a user would, and
// the invariants every result must satisfy whatever the server did.
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace iomodels::loadgen::testing {

using nlohmann::json;

struct Output {
  int status = -1;
  std::string out, err;
  json result;  // the --json file, when written
};

std::string slurp(const std::string& path);

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Runs a program with its output in files; nofile: an RLIMIT_NOFILE for it;
// stack: an RLIMIT_STACK (a quarter of it is the room for the arguments).
Output run(const std::string& program, std::vector<std::string> args,
           std::optional<rlim_t> nofile = std::nullopt, std::optional<rlim_t> stack = std::nullopt);
// loadgen with --quiet --json; the parsed result is in Output::result.
Output loadgen(std::vector<std::string> args, std::optional<rlim_t> nofile = std::nullopt,
               std::optional<rlim_t> stack = std::nullopt);
// loadgen processes side by side (each argument list one process).
std::vector<Output> side_by_side(const std::vector<std::vector<std::string>>& runs);
// Writes the parts to files in `dir` and merges them (merged JSON in result).
Output merge(const TempDir& dir, const std::vector<json>& parts);

std::string url(std::uint16_t port, const std::string& path = "/hello");
std::uint64_t u(const json& j, const char* key);

// The invariants every result must satisfy, whatever the server did.
void expect_consistent(const json& r);
// The merged result is the exact sum of its parts: outcomes, every
// histogram (all, censored, answered, fairness), rates over the union of
// the windows, flags recomputed.
void expect_merged_is_sum(const json& m, const std::vector<json>& parts);

}  // namespace iomodels::loadgen::testing
