#include "tests/hostile/server_process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace iomodels::hostile {
namespace {

constexpr int kStartTimeoutMs = 15'000;  // sanitizer builds start slowly

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

ServerProcess::ServerProcess(const ServerLaunch& launch) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  Fd read_end(pipe_fds[0]);
  Fd write_end(pipe_fds[1]);

  std::vector<std::string> argv_storage{launch.path, "--port", "0"};
  argv_storage.insert(argv_storage.end(), launch.args.begin(), launch.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // The child: only async-signal-safe calls until exec.
    ::dup2(write_end.get(), STDOUT_FILENO);
    // Nothing else of ours leaks into the server (a descriptor the test
    // runner left open would count against the server's RLIMIT_NOFILE).
    ::close_range(3, ~0u, 0);
    if (launch.nofile) {
      // Soft and hard both: every server raises its soft limit to the hard one.
      rlimit limit{*launch.nofile, *launch.nofile};
      if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) ::_exit(126);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  write_end.reset();
  stdout_ = std::move(read_end);

  // Wait for "listening on HOST:PORT\n".
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kStartTimeoutMs);
  while (line.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now()).count();
    pollfd p{stdout_.get(), POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) {
      throw std::runtime_error(launch.path + ": no 'listening on' line within 15 s");
    }
    char buf[256];
    ssize_t n = ::read(stdout_.get(), buf, sizeof buf);
    if (n <= 0) throw std::runtime_error(launch.path + ": exited before listening");
    line.append(buf, static_cast<std::size_t>(n));
  }
  auto colon = line.rfind(':', line.find('\n'));
  if (line.rfind("listening on ", 0) != 0 || colon == std::string::npos) {
    throw std::runtime_error(launch.path + ": unexpected first line: " + line);
  }
  port_ = static_cast<std::uint16_t>(std::stoi(line.substr(colon + 1)));
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
  }
}

bool ServerProcess::alive() {
  if (reaped_) return false;
  pid_t r = ::waitpid(pid_, &status_, WNOHANG);
  if (r == pid_) reaped_ = true;
  return !reaped_;
}

std::uint64_t ServerProcess::rss_kib() const {
  std::istringstream in(read_file("/proc/" + std::to_string(pid_) + "/status"));
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      std::uint64_t kib = 0;
      in >> kib;
      return kib;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

std::uint64_t ServerProcess::cpu_ms() const {
  // /proc/PID/stat: the command name may hold spaces and parentheses, so the
  // fields are counted from the last ')'. utime and stime are fields 14 and
  // 15 and cover every thread of the process.
  std::string stat = read_file("/proc/" + std::to_string(pid_) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  std::uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return (utime + stime) * 1000 / static_cast<std::uint64_t>(::sysconf(_SC_CLK_TCK));
}

int ServerProcess::open_fds() const {
  std::string path = "/proc/" + std::to_string(pid_) + "/fd";
  DIR* dir = ::opendir(path.c_str());
  if (!dir) return -1;
  int count = 0;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count;
}

std::optional<int> ServerProcess::signal_and_wait(int sig, int timeout_ms) {
  if (!alive()) return status_;
  ::kill(pid_, sig);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!alive()) return status_;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

}  // namespace iomodels::hostile
