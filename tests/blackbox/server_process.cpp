#include "tests/blackbox/server_process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

namespace iomodels::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Counts the entries of a /proc folder (threads, descriptors), or -1.
int count_entries(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return -1;
  int count = 0;
  while (dirent* entry = ::readdir(dir)) count += entry->d_name[0] != '.';
  ::closedir(dir);
  return count;
}

// Forks and execs binary with stdout to out_fd and stderr to err_fd.
pid_t spawn(const std::string& binary, const std::vector<std::string>& args, int out_fd, int err_fd,
            std::optional<std::uint64_t> nofile = std::nullopt) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the test died before prctl
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    // Nothing else of ours leaks into the server (a descriptor the test
    // runner left open would count against the server's RLIMIT_NOFILE).
    ::close_range(3, ~0u, 0);
    if (nofile) {
      // Soft and hard both: every server raises its soft limit to the hard one.
      rlimit limit{*nofile, *nofile};
      if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) ::_exit(126);
    }
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

std::string temp_file(Fd& fd) {
  char path[] = "/tmp/iomodels-blackbox-XXXXXX";
  fd = Fd(::mkostemp(path, O_CLOEXEC));
  if (!fd) throw std::runtime_error("mkostemp failed");
  return path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Waits for pid's exit until the deadline; the wait status, or nullopt.
std::optional<int> wait_until(pid_t pid, Clock::time_point deadline) {
  for (;;) {
    int status = 0;
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0 && errno != EINTR) return std::nullopt;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
}

// Reads one line from fd until the deadline; nullopt on EOF or timeout.
std::optional<std::string> read_line(int fd, Clock::time_point deadline) {
  std::string line;
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char c;
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    if (c == '\n') return line;
    line.push_back(c);
  }
}

}  // namespace

ServerProcess::ServerProcess(const ServerLaunch& launch) {
  const std::string& binary = launch.binary;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) < 0) throw std::runtime_error("pipe failed");
  stdout_ = Fd(pipe_fds[0]);
  Fd write_end(pipe_fds[1]);
  Fd err_file;
  stderr_path_ = temp_file(err_file);

  std::vector<std::string> argv = {"--port", "0"};
  argv.insert(argv.end(), launch.args.begin(), launch.args.end());
  pid_ = spawn(binary, argv, write_end.get(), err_file.get(), launch.nofile);
  write_end.reset();  // so that the server's exit is EOF here

  const std::string prefix = "listening on ";
  std::optional<std::string> line = read_line(stdout_.get(), Clock::now() + launch.startup_timeout);
  if (!line || line->rfind(prefix, 0) != 0 || line->rfind(':') == std::string::npos) {
    std::string why = line ? "printed '" + *line + "'" : "did not print 'listening on'";
    ::kill(pid_, SIGKILL);
    wait_status_ = wait_until(pid_, Clock::now() + 5s);
    throw std::runtime_error(binary + " " + why + "; its stderr:\n" + stderr_text());
  }
  std::string address = line->substr(prefix.size());
  std::size_t colon = address.rfind(':');
  host_ = address.substr(0, colon);
  port_ = static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1)));
}

ServerProcess::~ServerProcess() {
  // Every test ends with a clean stop, so every test also checks that the
  // server survives to exit 0, and a sanitizer build gets to print its
  // exit-time reports (leaks) into the stderr checked below.
  if (alive()) {
    std::optional<int> status = stop(SIGTERM, 5s);
    if (!status) {
      ADD_FAILURE() << "the server ignored SIGTERM at the end of the test";
      ::kill(pid_, SIGKILL);
      wait_status_ = wait_until(pid_, Clock::now() + 5s);
    } else if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
      ADD_FAILURE() << "the server did not exit 0 on SIGTERM at the end of the test (wait status "
                    << *status << ")";
    }
  }
  const std::string err = stderr_text();
  for (const char* report :
       {"AddressSanitizer", "ThreadSanitizer", "LeakSanitizer", "runtime error:"}) {
    if (err.find(report) != std::string::npos) ADD_FAILURE() << "sanitizer report from the server";
  }
  if (::testing::Test::HasFailure()) {
    std::fprintf(stderr, "--- server stderr (pid %d) ---\n%s--- end of server stderr ---\n",
                 static_cast<int>(pid_), stderr_text().c_str());
  }
  ::unlink(stderr_path_.c_str());
}

bool ServerProcess::alive() {
  if (wait_status_) return false;
  wait_status_ = wait_until(pid_, Clock::now());
  return !wait_status_;
}

std::optional<int> ServerProcess::stop(int signal, std::chrono::milliseconds timeout) {
  if (alive()) {
    ::kill(pid_, signal);
    wait_status_ = wait_until(pid_, Clock::now() + timeout);
  }
  return wait_status_;
}

int ServerProcess::thread_count() const {
  int count = std::max(0, count_entries("/proc/" + std::to_string(pid_) + "/task"));
#if defined(__SANITIZE_THREAD__)
  // A ThreadSanitizer build (the server is built in the same folder as this
  // test) starts one background thread of its own in a process once that
  // process starts a second thread; it is not one of the model's threads.
  // It bears the process's name, so it is told apart only by being there.
  if (count > 1) --count;
#endif
  return count;
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
  return count_entries("/proc/" + std::to_string(pid_) + "/fd");
}

std::string ServerProcess::stderr_text() const {
  return read_file(stderr_path_);
}

ExitResult run_to_exit(const std::string& binary, const std::vector<std::string>& args,
                       std::chrono::milliseconds timeout) {
  Fd out_file, err_file;
  std::string out_path = temp_file(out_file);
  std::string err_path = temp_file(err_file);
  pid_t pid = spawn(binary, args, out_file.get(), err_file.get());
  std::optional<int> status = wait_until(pid, Clock::now() + timeout);
  if (!status) {
    ::kill(pid, SIGKILL);
    wait_until(pid, Clock::now() + 5s);
  }
  ExitResult result;
  if (status && WIFEXITED(*status)) result.exit_code = WEXITSTATUS(*status);
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  ::unlink(out_path.c_str());
  ::unlink(err_path.c_str());
  return result;
}

}  // namespace iomodels::testing
