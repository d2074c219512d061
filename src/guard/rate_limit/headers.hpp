#pragma once
// Response header fields for a rate-limit decision.
//
// Shape follows draft-ietf-httpapi-ratelimit-headers-11 (23 May 2026, the latest revision when
// this was written; the structured-field form is unchanged since -08):
//   RateLimit-Policy: "<zone>";q=<requests per window>;w=<window seconds>
//   RateLimit: "<zone>";r=<available quota>;t=<effective window seconds>
//   Retry-After: <seconds>          (rejections only; RFC 9110 delay-seconds)
// Both RateLimit fields are SF Lists of one String item with Integer parameters. For an nginx
// rate "10r/m" q=10 and w=60; "10r/s" gives q=10 and w=1. r is the number of requests accepted
// without waiting right now; t is the seconds until r grows by one, i.e. the window within which
// the client can use no more than r (draft section 4.1.2). Seconds are rounded up.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guard/rate_limit/gcra.hpp"
#include "guard/rate_limit/rate.hpp"

namespace bastion::rate_limit {

struct HeaderField {
  std::string name;
  std::string value;
};

// "\"mcp_api\";q=10;w=60"
std::string rate_limit_policy_value(const Policy& policy);
// "\"mcp_api\";r=4;t=6"
std::string rate_limit_value(const Policy& policy, const Decision& decision);
// Whole seconds, at least 1, for a rejection; nullopt otherwise.
std::optional<std::string> retry_after_value(const Decision& decision);

// RateLimit-Policy and RateLimit on every decision, plus Retry-After on a rejection.
std::vector<HeaderField> decision_headers(const Policy& policy, const Decision& decision);

// An SF String ("..."): escapes '"' and '\\'; bytes outside printable ASCII become '?'.
std::string sf_string(std::string_view text);

}  // namespace bastion::rate_limit
