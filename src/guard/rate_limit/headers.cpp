#include "guard/rate_limit/headers.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace bastion::rate_limit {

namespace {

long long ceil_seconds(std::chrono::milliseconds value) {
  return std::chrono::ceil<std::chrono::seconds>(value).count();
}

// The policy only keeps requests per second; show whole requests per second when the rate is a
// whole number, otherwise per minute (what an r/m rate was written as).
void quota_and_window(const Policy& policy, long long& quota, long long& window) {
  const double rps = policy.rate_per_second;
  if (rps >= 1.0 && std::abs(rps - std::round(rps)) < 1e-9) {
    quota = std::llround(rps);
    window = 1;
  } else {
    quota = std::max<long long>(0, std::llround(rps * 60.0));
    window = 60;
  }
}

}  // namespace

std::string sf_string(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (byte < 0x20 || byte > 0x7e) {
      out.push_back('?');
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

std::string rate_limit_policy_value(const Policy& policy) {
  long long quota = 0;
  long long window = 1;
  quota_and_window(policy, quota, window);
  return sf_string(policy.zone) + ";q=" + std::to_string(quota) + ";w=" + std::to_string(window);
}

std::string rate_limit_value(const Policy& policy, const Decision& decision) {
  return sf_string(policy.zone) + ";r=" + std::to_string(decision.remaining) +
         ";t=" + std::to_string(ceil_seconds(decision.reset));
}

std::optional<std::string> retry_after_value(const Decision& decision) {
  if (decision.kind != Decision::Kind::reject) {
    return std::nullopt;
  }
  return std::to_string(std::max<long long>(1, ceil_seconds(decision.retry_after)));
}

std::vector<HeaderField> decision_headers(const Policy& policy, const Decision& decision) {
  std::vector<HeaderField> fields;
  fields.reserve(3);
  fields.push_back({"RateLimit-Policy", rate_limit_policy_value(policy)});
  fields.push_back({"RateLimit", rate_limit_value(policy, decision)});
  if (auto retry = retry_after_value(decision)) {
    fields.push_back({"Retry-After", std::move(*retry)});
  }
  return fields;
}

}  // namespace bastion::rate_limit
