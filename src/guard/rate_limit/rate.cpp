#include "guard/rate_limit/rate.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace bastion::rate_limit {

double Rate::per_second() const {
  return unit == Unit::per_second ? double(count) : double(count) / 60.0;
}

std::chrono::seconds Rate::window() const {
  return unit == Unit::per_second ? std::chrono::seconds(1) : std::chrono::seconds(60);
}

std::string Rate::to_string() const {
  return std::to_string(count) + (unit == Unit::per_second ? "r/s" : "r/m");
}

std::variant<Rate, RateError> parse_rate(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || text[slash - 1] != 'r') {
    return RateError{"invalid rate \"" + std::string(text) +
                     "\": expected <number>r/s or <number>r/m, e.g. 10r/s"};
  }
  const std::string_view number = text.substr(0, slash - 1);
  const std::string_view unit = text.substr(slash + 1);
  Rate rate;
  if (unit == "s") {
    rate.unit = Rate::Unit::per_second;
  } else if (unit == "m") {
    rate.unit = Rate::Unit::per_minute;
  } else {
    return RateError{"unsupported rate unit \"r/" + std::string(unit) + "\" in \"" +
                     std::string(text) +
                     "\": only r/s and r/m are supported (as in nginx limit_req)"};
  }
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (number.empty() || ec != std::errc{} || end != number.data() + number.size()) {
    return RateError{"invalid rate \"" + std::string(text) +
                     "\": the count must be a whole number of requests, e.g. 10r/s"};
  }
  if (value == 0) {
    return RateError{"invalid rate \"" + std::string(text) + "\": the rate must be at least 1"};
  }
  const std::uint64_t max = rate.unit == Rate::Unit::per_second ? 1'000'000 : 60'000'000;
  if (value > max) {
    return RateError{"invalid rate \"" + std::string(text) +
                     "\": at most 1000000r/s (60000000r/m)"};
  }
  rate.count = static_cast<std::uint32_t>(value);
  return rate;
}

Policy make_policy(std::string zone, const Rate& rate, std::uint32_t burst, bool nodelay) {
  return Policy{std::move(zone), rate.per_second(), burst, nodelay};
}

std::chrono::microseconds emission_interval(const Policy& policy) {
  if (!(policy.rate_per_second > 0)) {
    return std::chrono::hours(24 * 365);  // a zero or invalid rate admits almost nothing
  }
  // The small epsilon keeps 10r/m (1e6 / (10/60.0) = 5999999.999...) at exactly 6 s.
  const double us = std::floor(1e6 / policy.rate_per_second + 1e-6);
  return std::chrono::microseconds(std::max<std::int64_t>(1, static_cast<std::int64_t>(us)));
}

}  // namespace bastion::rate_limit
