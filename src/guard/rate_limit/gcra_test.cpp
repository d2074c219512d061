#include "guard/rate_limit/gcra.hpp"

#include <gtest/gtest.h>

namespace bastion::rate_limit {
namespace {

using namespace std::chrono_literals;
using Kind = Decision::Kind;

Policy policy(std::string_view rate, std::uint32_t burst, bool nodelay) {
  return make_policy("mcp_api", std::get<Rate>(parse_rate(rate)), burst, nodelay);
}

// Feeds decisions through the state like a store would.
struct Bucket {
  Policy policy;
  std::optional<Micros> tat;
  Decision at(Micros now) {
    GcraOutcome out = gcra_check(policy, tat, now);
    if (out.new_tat) {
      tat = out.new_tat;
    }
    return out.decision;
  }
};

const Micros t0 = std::chrono::hours(1000);  // any epoch works

TEST(Gcra, TenPerMinuteBurstFiveNodelay) {
  Bucket b{policy("10r/m", 5, true), std::nullopt};
  for (int i = 0; i < 6; ++i) {
    const Decision d = b.at(t0);
    EXPECT_EQ(d.kind, Kind::allow) << i;
    EXPECT_EQ(d.delay, 0ms) << i;
    EXPECT_EQ(d.remaining, static_cast<std::uint32_t>(5 - i)) << i;
    EXPECT_EQ(d.reset, 6s) << i;
  }
  const Decision seventh = b.at(t0);
  EXPECT_EQ(seventh.kind, Kind::reject);
  EXPECT_EQ(seventh.retry_after, 6s);
  EXPECT_EQ(seventh.remaining, 0u);
  EXPECT_EQ(seventh.reset, 6s);

  // Rejections leave the state alone: still rejected just before 6 s, admitted at 6 s.
  const Decision early = b.at(t0 + 5999ms);
  EXPECT_EQ(early.kind, Kind::reject);
  EXPECT_EQ(early.retry_after, 1ms);
  const Decision on_time = b.at(t0 + 6s);
  EXPECT_EQ(on_time.kind, Kind::allow);
  EXPECT_EQ(on_time.remaining, 0u);
  EXPECT_EQ(b.at(t0 + 6s).kind, Kind::reject);
}

TEST(Gcra, RetryAfterCountsDownWithTime) {
  Bucket b{policy("10r/m", 5, true), std::nullopt};
  for (int i = 0; i < 6; ++i) {
    b.at(t0);
  }
  EXPECT_EQ(b.at(t0 + 2500ms).retry_after, 3500ms);
  EXPECT_EQ(b.at(t0 + 2500ms).reset, 3500ms);
}

TEST(Gcra, SteadyRateIsAcceptedExactly) {
  for (std::uint32_t burst : {0u, 1u, 5u}) {
    Bucket b{policy("10r/s", burst, false), std::nullopt};
    for (int i = 0; i < 1000; ++i) {
      const Decision d = b.at(t0 + i * 100ms);
      ASSERT_EQ(d.kind, Kind::allow) << "burst " << burst << " request " << i;
      ASSERT_EQ(d.delay, 0ms);
      ASSERT_EQ(d.remaining, burst);
    }
  }
  // Rates whose interval is not a whole number of microseconds: 3r/s sent every 333333 us.
  Bucket b{policy("3r/s", 0, true), std::nullopt};
  for (int i = 0; i < 3000; ++i) {
    ASSERT_EQ(b.at(t0 + Micros(333333) * i).kind, Kind::allow) << i;
  }
}

TEST(Gcra, BurstZeroRejectsAnythingFasterThanTheRate) {
  Bucket b{policy("10r/s", 0, false), std::nullopt};
  EXPECT_EQ(b.at(t0).kind, Kind::allow);
  EXPECT_EQ(b.at(t0 + 99ms).kind, Kind::reject);
  EXPECT_EQ(b.at(t0 + 99ms).retry_after, 1ms);
  EXPECT_EQ(b.at(t0 + 100ms).kind, Kind::allow);
}

TEST(Gcra, WithoutNodelayDelaysGrowByOneIntervalThenReject) {
  Bucket b{policy("10r/s", 5, false), std::nullopt};
  EXPECT_EQ(b.at(t0).kind, Kind::allow);
  for (int i = 1; i <= 5; ++i) {
    const Decision d = b.at(t0);
    EXPECT_EQ(d.kind, Kind::delay) << i;
    EXPECT_EQ(d.delay, std::chrono::milliseconds(100 * i)) << i;
    EXPECT_EQ(d.remaining, static_cast<std::uint32_t>(5 - i)) << i;
  }
  const Decision over = b.at(t0);
  EXPECT_EQ(over.kind, Kind::reject);
  EXPECT_EQ(over.retry_after, 100ms);
  // Half an interval later the queue has drained by half a request: still full.
  EXPECT_EQ(b.at(t0 + 50ms).kind, Kind::reject);
  const Decision later = b.at(t0 + 100ms);
  EXPECT_EQ(later.kind, Kind::delay);
  EXPECT_EQ(later.delay, 500ms);
}

TEST(Gcra, FractionalBacklogRoundsRemainingDownAndResetUp) {
  Bucket b{policy("10r/m", 5, true), std::nullopt};
  b.at(t0);
  b.at(t0);
  b.at(t0);                          // backlog 18 s
  const Decision d = b.at(t0 + 3s);  // backlog 24 - 3 = 21 s = 3.5 intervals
  EXPECT_EQ(d.kind, Kind::allow);
  EXPECT_EQ(d.remaining, 2u);  // floor(6 - 3.5)
  EXPECT_EQ(d.reset, 3s);      // until the backlog is 18 s again
}

TEST(Gcra, StaleStateIsTheSameAsNoState) {
  const Policy p = policy("10r/m", 5, true);
  for (const Micros stale : {t0 - 1h, t0 - 1us, t0}) {
    const GcraOutcome fresh = gcra_check(p, std::nullopt, t0);
    const GcraOutcome old = gcra_check(p, stale, t0);
    EXPECT_EQ(old.decision.kind, fresh.decision.kind);
    EXPECT_EQ(old.decision.remaining, fresh.decision.remaining);
    EXPECT_EQ(old.new_tat, fresh.new_tat);
  }
}

TEST(Gcra, MatchesNginxExcessArithmetic) {
  // nginx: excess' = max(0, excess - rate * ms / 1000 + 1000) in milli-requests, reject when
  // excess' > burst * 1000. Replay a pseudo-random schedule against that model.
  const Policy p = policy("10r/s", 3, false);
  Bucket b{p, std::nullopt};
  long long excess = 0;  // milli-requests
  long long last_ms = -1;
  const long long rate = 10 * 1000;  // nginx's rate in milli-requests per second
  unsigned seed = 12345;
  long long now_ms = 0;
  for (int i = 0; i < 5000; ++i) {
    seed = seed * 1103515245u + 12345u;
    now_ms += (seed >> 16) % 150;
    long long next_excess = 0;
    bool reject = false;
    if (last_ms < 0) {
      next_excess = 0;
    } else {
      next_excess = std::max(0LL, excess - rate * (now_ms - last_ms) / 1000 + 1000);
      reject = next_excess > 3 * 1000;
    }
    const Decision d = b.at(t0 + std::chrono::milliseconds(now_ms));
    ASSERT_EQ(d.kind == Kind::reject, reject) << "request " << i << " at " << now_ms;
    if (!reject) {
      ASSERT_EQ(d.delay.count(), next_excess * 1000 / rate) << "request " << i;
      excess = next_excess;
      last_ms = now_ms;
    }
  }
}

}  // namespace
}  // namespace bastion::rate_limit
