#include "upstream/stdio/restart_backoff.hpp"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace bastion::upstream::stdio {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

RestartPolicy no_jitter() {
  RestartPolicy p;
  p.initial = 100ms;
  p.max = 1000ms;
  p.multiplier = 2.0;
  p.max_restarts_in_window = 100;
  p.window = 60s;
  p.jitter = 0.0;
  return p;
}

TEST(RestartBackoff, GrowsExponentiallyAndCaps) {
  RestartBackoff b(no_jitter(), 1);
  auto t = Clock::time_point{} + 1h;
  std::vector<std::chrono::milliseconds> got;
  for (int i = 0; i < 7; ++i) {
    auto d = b.on_exit(t);
    ASSERT_TRUE(d.has_value());
    got.push_back(*d);
    t += 1s;
  }
  EXPECT_EQ(got, (std::vector<std::chrono::milliseconds>{100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms,
                                                         1000ms}));
  EXPECT_EQ(b.consecutive_exits(), 7);
}

TEST(RestartBackoff, ManyExitsDoNotOverflow) {
  auto p = no_jitter();
  p.window = 0s;  // never counts as a crash loop
  RestartBackoff b(p, 1);
  auto t = Clock::time_point{} + 1h;
  for (int i = 0; i < 5000; ++i) {
    auto d = b.on_exit(t += 1ms);
    ASSERT_TRUE(d.has_value());
    ASSERT_LE(*d, 1000ms);
    ASSERT_GE(*d, 100ms);
  }
}

TEST(RestartBackoff, JitterStaysWithinBoundsAndVaries) {
  auto p = no_jitter();
  p.jitter = 0.5;
  p.initial = 1000ms;
  p.max = 1000ms;
  p.window = 0s;
  RestartBackoff b(p, 42);
  auto t = Clock::time_point{} + 1h;
  std::set<long> seen;
  for (int i = 0; i < 200; ++i) {
    auto d = b.on_exit(t += 1s);
    ASSERT_TRUE(d.has_value());
    EXPECT_GE(*d, 500ms);
    EXPECT_LE(*d, 1000ms);
    seen.insert(d->count());
  }
  EXPECT_GT(seen.size(), 20u);
}

TEST(RestartBackoff, SameSeedSameDelays) {
  auto p = no_jitter();
  p.jitter = 0.3;
  RestartBackoff a(p, 7), b(p, 7);
  auto t = Clock::time_point{} + 1h;
  for (int i = 0; i < 10; ++i) {
    t += 1s;
    EXPECT_EQ(a.on_exit(t), b.on_exit(t));
  }
}

TEST(RestartBackoff, CrashLoopInsideWindowGivesUp) {
  RestartPolicy p = no_jitter();
  p.max_restarts_in_window = 3;
  p.window = 10s;
  RestartBackoff b(p, 1);
  auto t = Clock::time_point{} + 1h;
  EXPECT_TRUE(b.on_exit(t));
  EXPECT_TRUE(b.on_exit(t + 1s));
  EXPECT_TRUE(b.on_exit(t + 2s));
  EXPECT_FALSE(b.failed());
  EXPECT_FALSE(b.on_exit(t + 3s).has_value());  // 4 exits within 10 s
  EXPECT_TRUE(b.failed());
  // Failed is sticky, even once the window has passed.
  EXPECT_FALSE(b.on_exit(t + 1h).has_value());
  b.reset();
  EXPECT_FALSE(b.failed());
  EXPECT_EQ(b.on_exit(t + 2h), 100ms);
}

TEST(RestartBackoff, ExitsOutsideWindowDoNotCount) {
  RestartPolicy p = no_jitter();
  p.max_restarts_in_window = 2;
  p.window = 10s;
  RestartBackoff b(p, 1);
  auto t = Clock::time_point{} + 1h;
  for (int i = 0; i < 20; ++i) {
    // Two exits every 10 s never exceed two inside any 10 s window.
    ASSERT_TRUE(b.on_exit(t + std::chrono::seconds(10 * i)).has_value()) << i;
    ASSERT_TRUE(b.on_exit(t + std::chrono::seconds(10 * i) + 5s).has_value()) << i;
    ASSERT_LE(b.exits_in_window(), 2u);
  }
  EXPECT_FALSE(b.failed());
}

TEST(RestartBackoff, HealthyResetsDelayButNotWindow) {
  RestartPolicy p = no_jitter();
  p.max_restarts_in_window = 4;
  p.window = 60s;
  RestartBackoff b(p, 1);
  auto t = Clock::time_point{} + 1h;
  EXPECT_EQ(b.on_exit(t), 100ms);
  EXPECT_EQ(b.on_exit(t + 1s), 200ms);
  EXPECT_EQ(b.on_exit(t + 2s), 400ms);
  b.on_healthy();
  EXPECT_EQ(b.consecutive_exits(), 0);
  EXPECT_EQ(b.on_exit(t + 3s), 100ms);
  // The window still holds the four exits: a fifth inside it is a crash loop.
  EXPECT_FALSE(b.on_exit(t + 4s).has_value());
}

TEST(RestartBackoff, DefaultsMatchContract) {
  RestartPolicy p;
  EXPECT_EQ(p.initial, 200ms);
  EXPECT_EQ(p.max, 30000ms);
  EXPECT_EQ(p.multiplier, 2.0);
  EXPECT_EQ(p.max_restarts_in_window, 5);
  EXPECT_EQ(p.window, 60s);
  RestartBackoff b(p);
  auto t = Clock::time_point{} + 1h;
  for (int i = 0; i < 5; ++i) {
    auto d = b.on_exit(t + std::chrono::seconds(i));
    ASSERT_TRUE(d.has_value());
    EXPECT_LE(*d, 30000ms);
  }
  EXPECT_FALSE(b.on_exit(t + 5s).has_value());
}

TEST(RestartBackoff, InvalidPolicyIsSanitised) {
  RestartPolicy p;
  p.initial = -5ms;
  p.max = -1ms;
  p.multiplier = 0.1;
  p.jitter = 7.0;
  p.max_restarts_in_window = 3;
  RestartBackoff b(p, 3);
  auto d = b.on_exit(Clock::time_point{} + 1h);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, 0ms);
}

}  // namespace
}  // namespace bastion::upstream::stdio
