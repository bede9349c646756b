// OutputQueue: ordering, partial writes at every size, pattern bodies.
#include "protocol/output_queue.hpp"

#include <gtest/gtest.h>

#include <string>

#include "protocol/body_pattern.hpp"

namespace iomodels::http {
namespace {

// Drains the queue as a socket would that accepts `step` bytes per write.
std::string drain(OutputQueue& out, std::size_t step, int max_iov = 8) {
  std::string sent;
  iovec iov[64];
  while (!out.empty()) {
    int n = out.gather(iov, max_iov);
    EXPECT_GT(n, 0);
    std::size_t budget = step;
    std::size_t took = 0;
    for (int i = 0; i < n && budget > 0; ++i) {
      std::size_t len = std::min(budget, iov[i].iov_len);
      sent.append(static_cast<char*>(iov[i].iov_base), len);
      budget -= len;
      took += len;
    }
    out.consume(took);
  }
  return sent;
}

std::string expected_pattern(std::size_t n) {
  std::string s(n, 0);
  for (std::size_t i = 0; i < n; ++i) s[i] = pattern_byte(i);
  return s;
}

TEST(OutputQueue, KeepsOrderAcrossBytesAndPatterns) {
  for (std::size_t step : {1u, 7u, 61u, 4096u, 1u << 20}) {
    OutputQueue out;
    out.append("head1|");
    out.append_pattern(150000);
    out.append("head2|");
    out.append("more|");
    out.append_pattern(3);
    EXPECT_EQ(out.pending(), 6u + 150000 + 11 + 3);
    std::string want = "head1|" + expected_pattern(150000) + "head2|more|" + expected_pattern(3);
    EXPECT_EQ(drain(out, step), want) << "step " << step;
    EXPECT_TRUE(out.empty());
  }
}

TEST(OutputQueue, PipelinedResponsesCoalesceIntoOneBuffer) {
  OutputQueue out;
  for (int i = 0; i < 16; ++i) out.append("response\n");
  iovec iov[4];
  EXPECT_EQ(out.gather(iov, 4), 1);
  EXPECT_EQ(iov[0].iov_len, 16u * 9);
}

TEST(OutputQueue, ReusableAfterDrainAndRelease) {
  OutputQueue out;
  out.append("abc");
  EXPECT_EQ(drain(out, 2), "abc");
  out.append("def");
  EXPECT_EQ(drain(out, 100), "def");
  out.release_memory();
  out.append_pattern(5);
  EXPECT_EQ(drain(out, 1), expected_pattern(5));
}

TEST(OutputQueue, AHugePatternCostsNoMemory) {
  OutputQueue out;
  for (int i = 0; i < 1000; ++i) out.append_pattern(1 << 20);
  EXPECT_EQ(out.pending(), 1000ull << 20);
  iovec iov[4];
  EXPECT_EQ(out.gather(iov, 4), 4);  // all pointing into the shared block
  EXPECT_TRUE(check_pattern({static_cast<char*>(iov[1].iov_base), iov[1].iov_len}, iov[0].iov_len));
}

}  // namespace
}  // namespace iomodels::http
