// Shards of one run (--shard, --start-at) and --merge's checks that the
// files it is given belong together.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "loadgen/tests/run_helpers.hpp"
#include "loadgen/tests/test_server.hpp"

using namespace iomodels::loadgen::testing;

namespace {

double unix_now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

std::string fixed(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

// Three shards of one open-loop run, started together by a barrier.
class ShardedRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new TestServer;
    // Two seconds ahead: time for three processes to start on a loaded machine.
    const std::string start = fixed(unix_now() + 2.0);
    std::vector<std::vector<std::string>> runs;
    for (int i = 1; i <= 3; ++i) {
      runs.push_back({"--shard", std::to_string(i) + "/3", "--start-at", start, "-c", "6", "-R",
                      "600", "-d", "1s", url(server_->port())});
    }
    outs_ = new std::vector<Output>(side_by_side(runs));
  }
  static void TearDownTestSuite() {
    delete outs_;
    delete server_;
  }
  static json part(int i) { return (*outs_)[i].result; }

  static TestServer* server_;
  static std::vector<Output>* outs_;
};
TestServer* ShardedRun::server_ = nullptr;
std::vector<Output>* ShardedRun::outs_ = nullptr;

TEST_F(ShardedRun, MergedEqualsTheSumOfTheShards) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ((*outs_)[i].status, 0) << (*outs_)[i].out << (*outs_)[i].err;
    expect_consistent(part(i));
    EXPECT_EQ(part(i)["shard"]["index"], i + 1);
    EXPECT_EQ(u(part(i)["shard"], "connections"), 2u);
    EXPECT_EQ(u(part(i)["fairness"], "connections"), 2u);
    EXPECT_TRUE(part(i)["host"].is_string());
    EXPECT_TRUE(part(i)["clock_offset_s"].is_null());
    // One barrier: one window, to the conversion between the clocks.
    EXPECT_NEAR(part(i)["window"]["start_unix_s"].get<double>(),
                part(0)["window"]["start_unix_s"].get<double>(), 0.01);
  }
  TempDir dir;
  const Output m = merge(dir, {part(0), part(1), part(2)});
  ASSERT_EQ(m.status, 0) << m.err;
  expect_merged_is_sum(m.result, {part(0), part(1), part(2)});
  // The shards' schedules together are the whole run's: 600 requests due
  // in the 1 s window at 600/s, each measured once.
  EXPECT_EQ(u(m.result["outcomes"], "measured"), 600u);
  EXPECT_EQ(u(m.result["config"], "connections"), 6u);
  EXPECT_EQ(m.result["target_rps"].get<double>(), 600.0);
  EXPECT_EQ(m.result["parts"].size(), 3u);
}

TEST_F(ShardedRun, AMissingShardIsRefused) {
  TempDir dir;
  const Output m = merge(dir, {part(0), part(2)});
  EXPECT_EQ(m.status, 1);
  EXPECT_NE(m.err.find("shard 2/3 is missing"), std::string::npos) << m.err;
  EXPECT_TRUE(m.result.is_null());
}

TEST_F(ShardedRun, ADuplicatedShardIsRefused) {
  TempDir dir;
  const Output m = merge(dir, {part(0), part(1), part(0), part(2)});
  EXPECT_EQ(m.status, 1);
  EXPECT_NE(
      m.err.find(dir.file("part2.json") + " and " + dir.file("part0.json") + " are both shard 1/3"),
      std::string::npos)
      << m.err;
}

TEST_F(ShardedRun, WindowsThatDoNotOverlapAreRefused) {
  json late = part(1);
  late["window"]["start_unix_s"] = late["window"]["start_unix_s"].get<double>() + 10;
  late["window"]["end_unix_s"] = late["window"]["end_unix_s"].get<double>() + 10;
  TempDir dir;
  const Output m = merge(dir, {part(0), late, part(2)});
  EXPECT_EQ(m.status, 1);
  EXPECT_NE(m.err.find(dir.file("part1.json") + ": its window"), std::string::npos) << m.err;
  EXPECT_NE(m.err.find("does not overlap"), std::string::npos) << m.err;
  // A clock offset recorded with the shard puts it back on the reference clock.
  late["clock_offset_s"] = 10.0;
  EXPECT_EQ(merge(dir, {part(0), late, part(2)}).status, 0);
}

TEST_F(ShardedRun, AShardOfAnotherRunIsRefused) {
  json other = part(2);
  other["config"]["path"] = "/sleep/1";
  TempDir dir;
  const Output m = merge(dir, {part(0), part(1), other});
  EXPECT_EQ(m.status, 1);
  EXPECT_NE(m.err.find(dir.file("part2.json") + ": its configuration differs"), std::string::npos)
      << m.err;
  EXPECT_NE(m.err.find("\"path\""), std::string::npos) << m.err;
  json unsharded = part(2);
  unsharded["shard"] = nullptr;
  EXPECT_NE(merge(dir, {part(0), part(1), unsharded}).err.find("is not"), std::string::npos);
}

TEST_F(ShardedRun, AnOlderFormatIsRefusedByName) {
  json old = part(1);
  old["format_version"] = 1;
  TempDir dir;
  const Output m = merge(dir, {part(0), old, part(2)});
  EXPECT_EQ(m.status, 1);
  EXPECT_NE(m.err.find(dir.file("part1.json") + ": format_version 1"), std::string::npos) << m.err;
}

TEST(LoadgenShard, BadBarriersAndShardsExit2) {
  const std::string target = "http://127.0.0.1:1/";
  const Output past = run(LOADGEN_PATH, {"--start-at", fixed(unix_now() - 5), target});
  EXPECT_EQ(past.status, 2);
  EXPECT_NE(past.err.find("in the past"), std::string::npos) << past.err;
  EXPECT_EQ(run(LOADGEN_PATH, {"--start-at", fixed(unix_now() + 3 * 86400), target}).status, 2);
  EXPECT_EQ(run(LOADGEN_PATH, {"--shard", "4/3", target}).status, 2);
  EXPECT_EQ(run(LOADGEN_PATH, {"--shard", "1/20", "-c", "10", target}).status, 2);
  EXPECT_EQ(run(LOADGEN_PATH, {"--shard", "1/2", "-c", "4", "-t", "3", target}).status, 2);
  EXPECT_EQ(run(LOADGEN_PATH, {"--clock-offset", "1e9", target}).status, 2);
}

}  // namespace
