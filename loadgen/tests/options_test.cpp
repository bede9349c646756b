#include <gtest/gtest.h>

#include "loadgen/config.hpp"

using namespace iomodels::loadgen;

TEST(Options, Durations) {
  EXPECT_EQ(parse_duration_ns("500ms"), 500'000'000);
  EXPECT_EQ(parse_duration_ns("10s"), 10'000'000'000);
  EXPECT_EQ(parse_duration_ns("2m"), 120'000'000'000);
  EXPECT_EQ(parse_duration_ns("1.5"), 1'500'000'000);
  EXPECT_EQ(parse_duration_ns("250us"), 250'000);
  EXPECT_THROW(parse_duration_ns("ten"), std::invalid_argument);
  EXPECT_THROW(parse_duration_ns("10x"), std::invalid_argument);
  EXPECT_THROW(parse_duration_ns("-1s"), std::invalid_argument);
}

TEST(Options, SourceAddressRanges) {
  const auto a = expand_source_addrs("127.0.0.1-127.0.0.8");
  ASSERT_EQ(a.size(), 8u);
  EXPECT_EQ(a.front(), "127.0.0.1");
  EXPECT_EQ(a.back(), "127.0.0.8");
  EXPECT_EQ(expand_source_addrs("10.0.0.255-10.0.1.1").size(), 3u);
  EXPECT_EQ(expand_source_addrs("127.0.0.1,127.0.0.2").size(), 2u);
  EXPECT_THROW(expand_source_addrs("127.0.0.9-127.0.0.1"), std::invalid_argument);
  EXPECT_THROW(expand_source_addrs("x-y"), std::invalid_argument);
}

// Times that would overflow 64-bit nanoseconds (or come close enough that
// start + warm-up + duration would) are refused, never wrapped.
TEST(Options, DurationsThatWouldOverflowAreRefused) {
  EXPECT_THROW(parse_duration_ns("9e9"), std::invalid_argument);
  EXPECT_THROW(parse_duration_ns("1e11"), std::invalid_argument);
  EXPECT_THROW(parse_duration_ns("1e300h"), std::invalid_argument);
  EXPECT_THROW(parse_duration_ns("inf"), std::invalid_argument);
  EXPECT_THROW(parse_duration_ns("nan"), std::invalid_argument);
  EXPECT_EQ(parse_duration_ns("1000000s"), kMaxDurationNs);
  EXPECT_THROW(parse_duration_ns("1000001s"), std::invalid_argument);
}

TEST(Options, Shards) {
  EXPECT_EQ(parse_shard("1/1"), std::make_pair(1, 1));
  EXPECT_EQ(parse_shard("3/4"), std::make_pair(3, 4));
  for (const char* bad : {"0/4", "5/4", "4", "a/b", "1/0", "-1/2", "1/2/3", ""}) {
    EXPECT_THROW(parse_shard(bad), std::invalid_argument) << bad;
  }
}
