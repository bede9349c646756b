// main() of the hostile-client suite: GoogleTest's flags, then ours.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <iostream>

#include "net/socket.hpp"
#include "tests/hostile/hostile_config.hpp"

namespace iomodels::hostile {
namespace {
Config g_config;
}

const Config& config() { return g_config; }

void report_figure(const std::string& test, const std::string& text) {
  std::printf("[figure] %s %s: %s\n", g_config.model.c_str(), test.c_str(), text.c_str());
  std::fflush(stdout);
  ::testing::Test::RecordProperty("figure", text);
}

}  // namespace iomodels::hostile

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);  // removes the flags it knows
  using iomodels::hostile::g_config;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << "usage: hostile_tests --server PATH --model NAME [--loadgen PATH] [gtest flags]\n"
                   "Black-box hostile-client tests against one server binary (docs/hostile.md).\n";
      return 0;
    }
    if ((arg == "--server" || arg == "--model" || arg == "--loadgen") && i + 1 < argc) {
      std::string value = argv[++i];
      (arg == "--server" ? g_config.server : arg == "--model" ? g_config.model : g_config.loadgen) = value;
    } else {
      std::cerr << "hostile_tests: unknown argument '" << arg << "' (try --help)\n";
      return 2;
    }
  }
  // Listing the tests (ctest's discovery) needs no server; running them does.
  if (g_config.server.empty() && !::testing::GTEST_FLAG(list_tests)) {
    std::cerr << "hostile_tests: --server PATH --model NAME are required (try --help)\n";
    return 2;
  }
  // The slowloris test holds 500 connections and the fd test 300 more.
  iomodels::raise_fd_limit();
  iomodels::ignore_sigpipe();
  return RUN_ALL_TESTS();
}
