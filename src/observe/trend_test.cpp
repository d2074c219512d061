#include "observe/trend.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

using namespace bastion::observe;

TEST(Trend, FitsALineExactly) {
  std::vector<TrendPoint> points;
  for (int i = 0; i < 10; ++i) points.push_back({1000.0 + i * 5.0, 100.0 + 20.0 * i});  // 4 units/s
  auto trend = fit_trend(points);
  ASSERT_TRUE(trend);
  EXPECT_NEAR(trend->slope, 4.0, 1e-9);
  EXPECT_NEAR(trend->at(1045), 280.0, 1e-6);
  EXPECT_NEAR(trend->r2, 1.0, 1e-12);
  EXPECT_EQ(trend->samples, 10u);
  // 280 at t=1045, 400 reached 30 s later.
  EXPECT_NEAR(*seconds_until(*trend, 1045, 400), 30.0, 1e-6);
  EXPECT_EQ(*seconds_until(*trend, 1045, 250), 0.0);  // already beyond
}

TEST(Trend, NeedsTwoDistinctInstants) {
  EXPECT_FALSE(fit_trend(std::vector<TrendPoint>{}));
  EXPECT_FALSE(fit_trend(std::vector<TrendPoint>{{1, 1}}));
  EXPECT_FALSE(fit_trend(std::vector<TrendPoint>{{1, 1}, {1, 5}}));
}

TEST(Trend, FlatOrFallingNeverCrosses) {
  auto flat = fit_trend(std::vector<TrendPoint>{{0, 5}, {1, 5}, {2, 5}});
  ASSERT_TRUE(flat);
  EXPECT_EQ(flat->slope, 0.0);
  EXPECT_EQ(flat->r2, 1.0);
  EXPECT_FALSE(seconds_until(*flat, 2, 10));
  auto falling = fit_trend(std::vector<TrendPoint>{{0, 9}, {1, 7}, {2, 5}});
  EXPECT_FALSE(seconds_until(*falling, 2, 10));
}

TEST(Trend, NoiseLowersTheFitButKeepsTheSlope) {
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0, 50);
  std::vector<TrendPoint> points;
  for (int i = 0; i < 200; ++i) points.push_back({double(i), 10.0 * i + noise(rng)});
  auto trend = fit_trend(points);
  ASSERT_TRUE(trend);
  EXPECT_NEAR(trend->slope, 10.0, 0.5);
  EXPECT_GT(trend->r2, 0.9);
  EXPECT_LT(trend->r2, 1.0);
  // Pure noise: no trend to speak of.
  std::vector<TrendPoint> flat;
  for (int i = 0; i < 200; ++i) flat.push_back({double(i), 1000 + noise(rng)});
  EXPECT_LT(fit_trend(flat)->r2, 0.1);
}

TEST(TrendSeries, KeepsOnlyTheWindow) {
  TrendSeries series(10.0, 100);
  for (int i = 0; i <= 30; ++i) series.add(i, i * 2.0);
  EXPECT_EQ(series.points().front().t, 20.0);
  EXPECT_EQ(series.size(), 11u);
  EXPECT_NEAR(series.fit()->slope, 2.0, 1e-9);
  series.add(5, 0);  // the clock went back
  EXPECT_EQ(series.size(), 1u);
  TrendSeries capped(1e9, 4);
  for (int i = 0; i < 10; ++i) capped.add(i, i);
  EXPECT_EQ(capped.size(), 4u);
  EXPECT_EQ(capped.points().front().t, 6.0);
}
