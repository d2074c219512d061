#include "guard/rate_limit/local_limiter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace bastion::rate_limit {
namespace {

using namespace std::chrono_literals;
using Kind = Decision::Kind;
using Clock = LocalLimiter::Clock;

Policy policy(std::string zone, std::string_view rate, std::uint32_t burst, bool nodelay) {
  return make_policy(std::move(zone), std::get<Rate>(parse_rate(rate)), burst, nodelay);
}

const Clock::time_point t0 = Clock::time_point(std::chrono::hours(1000));

TEST(LocalLimiter, TenPerMinuteBurstFiveNodelay) {
  LocalLimiter limiter;
  const Policy p = policy("mcp_api", "10r/m", 5, true);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(limiter.check(p, "10.0.0.1", t0).kind, Kind::allow) << i;
  }
  const Decision seventh = limiter.check(p, "10.0.0.1", t0);
  EXPECT_EQ(seventh.kind, Kind::reject);
  EXPECT_EQ(seventh.retry_after, 6s);
  // Another key and another zone are independent.
  EXPECT_EQ(limiter.check(p, "10.0.0.2", t0).kind, Kind::allow);
  EXPECT_EQ(limiter.check(policy("other", "10r/m", 5, true), "10.0.0.1", t0).kind, Kind::allow);
  EXPECT_EQ(limiter.check(p, "10.0.0.1", t0 + 6s).kind, Kind::allow);
}

TEST(LocalLimiter, BoundedKeysEvictExpiredStatesFirst) {
  LocalLimiter limiter({.max_keys = 4, .shards = 1});
  const Policy p = policy("z", "1r/s", 0, true);
  for (int i = 0; i < 4; ++i) {
    limiter.check(p, "k" + std::to_string(i), t0);
  }
  EXPECT_EQ(limiter.size(), 4u);
  // All four expire 1 s later; a fifth key then sweeps them instead of forcing anyone out.
  limiter.check(p, "k4", t0 + 2s);
  EXPECT_EQ(limiter.size(), 1u);
  EXPECT_EQ(limiter.forced_evictions(), 0u);
}

TEST(LocalLimiter, FullOfLiveStatesDropsTheOneClosestToExpiry) {
  LocalLimiter limiter({.max_keys = 3, .shards = 1});
  const Policy p = policy("z", "1r/m", 10, true);
  limiter.check(p, "light", t0);  // TAT t0+60 s
  for (int i = 0; i < 3; ++i) {
    limiter.check(p, "heavy1", t0);  // TAT t0+180 s
    limiter.check(p, "heavy2", t0);
  }
  limiter.check(p, "new", t0 + 1s);
  EXPECT_EQ(limiter.size(), 3u);
  EXPECT_EQ(limiter.forced_evictions(), 1u);
  // heavy1 kept its state: 3 used + this one leaves 7.
  EXPECT_EQ(limiter.check(p, "heavy1", t0 + 1s).remaining, 7u);
  // light was forgotten: it starts over with a full burst (the eviction made room for new).
  EXPECT_EQ(limiter.forced_evictions(), 1u);
}

TEST(LocalLimiter, ThreadSafeAndExactUnderContention) {
  LocalLimiter limiter;
  const Policy p = policy("z", "1r/m", 99, true);  // 100 admitted at once, no refill in the test
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (limiter.check(p, "shared", t0).admitted()) {
          allowed.fetch_add(1);
        }
        limiter.check(p, "own" + std::to_string(i % 50), t0);
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(allowed.load(), 100);
}

}  // namespace
}  // namespace bastion::rate_limit
