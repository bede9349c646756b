// blackbox_tests SERVER_BINARY [MODEL] [gtest options]
//
// One suite for every I/O model: ctest runs it once per server-* target
// (tests/blackbox/CMakeLists.txt). MODEL defaults to what follows "server-"
// in the binary's name; it selects the model-specific checks and the
// expected "Server: iomodels-MODEL" header.
#include <cstdio>
#include <string>

#include "tests/blackbox/suite.hpp"

namespace iomodels::testing {
namespace {
SuiteConfig g_config;
}

const SuiteConfig& suite() {
  return g_config;
}
void set_suite(SuiteConfig config) {
  g_config = std::move(config);
}

ServerProcess& BlackBox::start(const std::vector<std::string>& args) {
  server_ = std::make_unique<ServerProcess>(suite().binary, args);
  return *server_;
}

}  // namespace iomodels::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);  // removes the --gtest_* options
  if (GTEST_FLAG_GET(list_tests)) return RUN_ALL_TESTS();
  if (argc < 2 || argc > 3 || std::string(argv[1]).starts_with("-")) {
    std::fprintf(stderr,
                 "usage: %s SERVER_BINARY [MODEL] [--gtest_filter=...]\n"
                 "Starts SERVER_BINARY --port 0 for each test and speaks HTTP to it.\n"
                 "MODEL (blocking, threaded, epoll, ...) defaults to the name after 'server-'.\n",
                 argv[0]);
    return 2;
  }
  std::string binary = argv[1];
  std::string model = argc == 3 ? argv[2] : binary.substr(binary.rfind('/') + 1);
  if (argc == 2 && model.starts_with("server-")) model = model.substr(7);
  iomodels::testing::set_suite({binary, model});
  return RUN_ALL_TESTS();
}
