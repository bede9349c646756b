// The black-box suite's shared pieces: which server binary it is testing
// (from the command line, see suite_main.cpp), and a fixture that starts a
// fresh server for each test. Tests check behaviour through the socket only,
// so the same suite runs against every I/O model.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "tests/blackbox/http_client.hpp"
#include "tests/blackbox/server_process.hpp"

namespace iomodels::testing {

struct SuiteConfig {
  std::string binary;  // path of server-<model>
  std::string model;   // "blocking", "threaded", "epoll", ...
};
const SuiteConfig& suite();
void set_suite(SuiteConfig config);

inline void PrintTo(ReadStatus status, std::ostream* os) {
  *os << to_string(status);
}

class BlackBox : public ::testing::Test {
 protected:
  // Starts the server under test with --port 0 and these extra options.
  ServerProcess& start(const std::vector<std::string>& args = {});
  ServerProcess& server() { return *server_; }

  std::unique_ptr<ServerProcess> server_;
};

// Milliseconds since `start`.
inline long long ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

// Nothing more arrives on `c` (no answer past the last one read), and then
// the server closes it gracefully: FIN, not RST.
inline void expect_nothing_more_then_fin(HttpConnection& c,
                                         std::chrono::milliseconds timeout = 3s) {
  HttpConnection::Rest rest = c.read_until_close(timeout);
  EXPECT_EQ(rest.bytes, "") << "more arrived after the last answer";
  EXPECT_EQ(rest.how, ReadStatus::Closed) << "not closed with a FIN";
}

}  // namespace iomodels::testing

// Reads one response into `var`, failing the test unless it arrived whole.
#define READ_OK(var, connection)                                               \
  ::iomodels::testing::ReadResult var##_result = (connection).read_response(); \
  ASSERT_EQ(var##_result.status, ::iomodels::testing::ReadStatus::Ok);         \
  const ::iomodels::testing::HttpResponse& var = var##_result.response
