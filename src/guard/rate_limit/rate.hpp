#pragma once
// Rates in nginx limit_req syntax ("10r/s", "10r/m") and the policy a zone enforces.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace bastion::rate_limit {

struct Rate {
  enum class Unit { per_second, per_minute };
  std::uint32_t count = 0;  // requests per unit, > 0
  Unit unit = Unit::per_second;

  double per_second() const;
  std::chrono::seconds window() const;  // 1 s or 60 s
  std::string to_string() const;        // "10r/m"
};

// A parse failure carries a message fit for a config error ("FILE:LINE: <message>").
struct RateError {
  std::string message;
};

// nginx accepts only an integer followed by r/s or r/m; so do we (no r/h, no fractions).
// The largest accepted rate is 1,000,000 r/s (one request per microsecond, the state's unit).
std::variant<Rate, RateError> parse_rate(std::string_view text);

struct Policy {
  std::string zone;  // config name, e.g. "mcp_api"; also the header policy id
  double rate_per_second = 1.0;
  std::uint32_t burst = 0;  // nginx burst: excess requests tolerated beyond the rate
  bool nodelay = false;     // serve excess within burst at once instead of pacing it
};

Policy make_policy(std::string zone, const Rate& rate, std::uint32_t burst, bool nodelay);

// The GCRA emission interval T = 1/rate in whole microseconds, rounded down so that a client
// sending at exactly the configured rate is never rejected by rounding (at least 1 us).
std::chrono::microseconds emission_interval(const Policy& policy);

}  // namespace bastion::rate_limit
