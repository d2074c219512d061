#include "core/units.hpp"

#include <gtest/gtest.h>

using namespace bastion::core;
using namespace std::chrono_literals;

TEST(Units, Durations) {
  EXPECT_EQ(parse_duration("250ms"), 250ms);
  EXPECT_EQ(parse_duration("10s"), 10s);
  EXPECT_EQ(parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_duration("5m"), 5min);
  EXPECT_EQ(parse_duration("1h"), 1h);
  EXPECT_EQ(parse_duration("42"), 42ms);
  EXPECT_FALSE(parse_duration("fast"));
  EXPECT_FALSE(parse_duration("-1s"));
  EXPECT_FALSE(parse_duration("10 parsecs"));
  EXPECT_FALSE(parse_duration(""));
}

TEST(Units, Sizes) {
  EXPECT_EQ(parse_size("4MiB"), 4u << 20);
  EXPECT_EQ(parse_size("512KiB"), 512u << 10);
  EXPECT_EQ(parse_size("1.5GB"), 1'500'000'000u);
  EXPECT_EQ(parse_size("100"), 100u);
  EXPECT_FALSE(parse_size("4 furlongs"));
  EXPECT_FALSE(parse_size("nan"));
}

TEST(Units, Ratios) {
  EXPECT_DOUBLE_EQ(*parse_ratio("5%"), 0.05);
  EXPECT_DOUBLE_EQ(*parse_ratio("0.25"), 0.25);
  EXPECT_FALSE(parse_ratio("150%"));
}
