#pragma once
// GCRA with the exact semantics of nginx limit_req (ngx_http_limit_req_module), as pure logic.
//
// nginx keeps per key an "excess" e (in requests) and applies, at each request,
//     e' = max(0, e - rate * elapsed + 1);   reject when e' > burst (state left unchanged);
//     otherwise delay = e' / rate (0 with nodelay).
// With T = 1/rate and the theoretical arrival time TAT = now + (e' + 1) * T this is exactly GCRA:
//     TAT' = max(TAT, now) + T;   excess e' = (TAT' - now) / T - 1;
//     allowed iff TAT' - now <= (burst + 1) * T.
// So the whole per-key state is one time value (TAT, microseconds), and a TAT that is not in the
// future is the same as no state at all. A fresh key admits burst + 1 requests at once.
// No clock here: the caller passes "now" (steady clock locally, Redis TIME when shared).
#include <chrono>
#include <cstdint>
#include <optional>

#include "guard/rate_limit/rate.hpp"

namespace bastion::rate_limit {

struct Decision {
  enum class Kind { allow, delay, reject };
  Kind kind = Kind::allow;
  // allow: 0. delay: how long to hold the request so excess leaves at the rate (nginx without
  // nodelay). reject: 0.
  std::chrono::milliseconds delay{0};
  // reject only: time until the same request would be accepted (rounded up to whole ms).
  std::chrono::milliseconds retry_after{0};
  // Further requests that would be accepted without waiting right after this decision.
  std::uint32_t remaining = 0;
  // Time until `remaining` grows by one: the "effective window" within which the client can use
  // no more than `remaining` (draft-ietf-httpapi-ratelimit-headers "t"). Rounded up to whole ms.
  std::chrono::milliseconds reset{0};

  bool admitted() const { return kind != Kind::reject; }
};

// Microseconds since an arbitrary epoch shared by all calls for one key.
using Micros = std::chrono::microseconds;

struct GcraOutcome {
  Decision decision;
  std::optional<Micros> new_tat;  // the state to store; empty when rejected (state unchanged)
};

// `tat` is the stored state, or nullopt for a key never seen (or evicted).
GcraOutcome gcra_check(const Policy& policy, std::optional<Micros> tat, Micros now);

// Same, with the interval precomputed (hot path; the Redis script uses the same formula).
GcraOutcome gcra_check(Micros interval, std::uint32_t burst, bool nodelay,
                       std::optional<Micros> tat, Micros now);

}  // namespace bastion::rate_limit
