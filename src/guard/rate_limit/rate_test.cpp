#include "guard/rate_limit/rate.hpp"

#include <gtest/gtest.h>

namespace bastion::rate_limit {
namespace {

Rate ok(std::string_view text) {
  auto parsed = parse_rate(text);
  EXPECT_TRUE(std::holds_alternative<Rate>(parsed)) << text;
  return std::holds_alternative<Rate>(parsed) ? std::get<Rate>(parsed) : Rate{};
}

std::string error(std::string_view text) {
  auto parsed = parse_rate(text);
  EXPECT_TRUE(std::holds_alternative<RateError>(parsed)) << text;
  return std::holds_alternative<RateError>(parsed) ? std::get<RateError>(parsed).message
                                                   : std::string{};
}

TEST(Rate, ParsesPerSecondAndPerMinute) {
  const Rate s = ok("10r/s");
  EXPECT_EQ(s.count, 10u);
  EXPECT_EQ(s.unit, Rate::Unit::per_second);
  EXPECT_DOUBLE_EQ(s.per_second(), 10.0);
  EXPECT_EQ(s.window(), std::chrono::seconds(1));
  EXPECT_EQ(s.to_string(), "10r/s");

  const Rate m = ok("10r/m");
  EXPECT_EQ(m.unit, Rate::Unit::per_minute);
  EXPECT_DOUBLE_EQ(m.per_second(), 10.0 / 60.0);
  EXPECT_EQ(m.window(), std::chrono::seconds(60));
  EXPECT_EQ(ok("1r/s").count, 1u);
  EXPECT_EQ(ok("1000000r/s").count, 1000000u);
}

TEST(Rate, RejectsOtherUnitsWithAClearMessage) {
  const std::string hour = error("1r/h");
  EXPECT_NE(hour.find("r/h"), std::string::npos) << hour;
  EXPECT_NE(hour.find("only r/s and r/m"), std::string::npos) << hour;
  EXPECT_NE(error("5r/d").find("only r/s and r/m"), std::string::npos);
}

TEST(Rate, RejectsMalformedRates) {
  for (const char* bad : {"", "r/s", "10", "10/s", "10rs", "0r/s", "-1r/s", "1.5r/s", " 10r/s",
                          "10r/s ", "10R/S", "1000001r/s", "99999999999999999999r/s", "abcr/m"}) {
    EXPECT_FALSE(error(bad).empty()) << bad;
  }
}

TEST(Rate, EmissionIntervalIsExactForRoundRates) {
  EXPECT_EQ(emission_interval(make_policy("z", ok("10r/m"), 0, false)), std::chrono::seconds(6));
  EXPECT_EQ(emission_interval(make_policy("z", ok("10r/s"), 0, false)),
            std::chrono::milliseconds(100));
  EXPECT_EQ(emission_interval(make_policy("z", ok("3r/s"), 0, false)),
            std::chrono::microseconds(333333));
  EXPECT_EQ(emission_interval(make_policy("z", ok("7r/m"), 0, false)),
            std::chrono::microseconds(8571428));
  EXPECT_EQ(emission_interval(make_policy("z", ok("1000000r/s"), 0, false)),
            std::chrono::microseconds(1));
}

}  // namespace
}  // namespace bastion::rate_limit
