#include "guard/rate_limit/headers.hpp"

#include <gtest/gtest.h>

namespace bastion::rate_limit {
namespace {

using namespace std::chrono_literals;

Policy policy(std::string zone, std::string_view rate, std::uint32_t burst, bool nodelay) {
  return make_policy(std::move(zone), std::get<Rate>(parse_rate(rate)), burst, nodelay);
}

const Micros t0 = std::chrono::hours(1000);

TEST(Headers, PolicyShape) {
  EXPECT_EQ(rate_limit_policy_value(policy("mcp_api", "10r/m", 5, true)), "\"mcp_api\";q=10;w=60");
  EXPECT_EQ(rate_limit_policy_value(policy("mcp_api", "10r/s", 5, true)), "\"mcp_api\";q=10;w=1");
  EXPECT_EQ(rate_limit_policy_value(policy("slow", "1r/m", 0, false)), "\"slow\";q=1;w=60");
  EXPECT_EQ(rate_limit_policy_value(policy("fast", "1000000r/s", 0, false)),
            "\"fast\";q=1000000;w=1");
}

TEST(Headers, AfterTwoRequestsOfTenPerMinuteBurstFive) {
  const Policy p = policy("mcp_api", "10r/m", 5, true);
  GcraOutcome first = gcra_check(p, std::nullopt, t0);
  GcraOutcome second = gcra_check(p, first.new_tat, t0);
  const auto fields = decision_headers(p, second.decision);
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0].name, "RateLimit-Policy");
  EXPECT_EQ(fields[0].value, "\"mcp_api\";q=10;w=60");
  EXPECT_EQ(fields[1].name, "RateLimit");
  EXPECT_EQ(fields[1].value, "\"mcp_api\";r=4;t=6");
  EXPECT_FALSE(retry_after_value(second.decision));
}

TEST(Headers, RejectionCarriesRetryAfterRoundedUp) {
  const Policy p = policy("mcp_api", "10r/m", 5, true);
  std::optional<Micros> tat;
  for (int i = 0; i < 6; ++i) {
    tat = gcra_check(p, tat, t0).new_tat;
  }
  const Decision rejected = gcra_check(p, tat, t0 + 500ms).decision;
  ASSERT_EQ(rejected.kind, Decision::Kind::reject);
  const auto fields = decision_headers(p, rejected);
  ASSERT_EQ(fields.size(), 3u);
  EXPECT_EQ(fields[1].value, "\"mcp_api\";r=0;t=6");  // 5.5 s rounds up
  EXPECT_EQ(fields[2].name, "Retry-After");
  EXPECT_EQ(fields[2].value, "6");

  Decision tiny;
  tiny.kind = Decision::Kind::reject;
  tiny.retry_after = 1ms;
  EXPECT_EQ(retry_after_value(tiny), "1");
  tiny.retry_after = 0ms;
  EXPECT_EQ(retry_after_value(tiny), "1");
}

TEST(Headers, ZoneIsAValidStructuredFieldString) {
  EXPECT_EQ(sf_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(sf_string("tab\there\xff"), "\"tab?here?\"");
}

}  // namespace
}  // namespace bastion::rate_limit
