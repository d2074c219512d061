#include "guard/rate_limit/gcra.hpp"

#include <algorithm>

namespace bastion::rate_limit {

namespace {

std::chrono::milliseconds ceil_ms(Micros value) {
  return std::chrono::ceil<std::chrono::milliseconds>(std::max(value, Micros(0)));
}

// Requests accepted without waiting after the state `tat` at `now`, and the time until one more.
void fill_quota(Decision& d, Micros interval, std::uint32_t burst, Micros tat, Micros now) {
  const Micros backlog = std::max(tat - now, Micros(0));  // (excess + 1) * T, or 0 when empty
  const Micros capacity = interval * (static_cast<std::int64_t>(burst) + 1);
  if (backlog >= capacity) {
    d.remaining = 0;
  } else {
    d.remaining = static_cast<std::uint32_t>((capacity - backlog) / interval);
  }
  // One more unit is available once backlog <= capacity - (remaining + 1) * T.
  const Micros next = capacity - interval * (static_cast<std::int64_t>(d.remaining) + 1);
  d.reset = ceil_ms(backlog - next);
}

}  // namespace

GcraOutcome gcra_check(Micros interval, std::uint32_t burst, bool nodelay,
                       std::optional<Micros> tat, Micros now) {
  GcraOutcome out;
  const Micros current = tat && *tat > now ? *tat : now;
  const Micros new_tat = current + interval;
  const Micros capacity = interval * (static_cast<std::int64_t>(burst) + 1);
  if (new_tat - now > capacity) {
    // nginx leaves the state untouched on rejection.
    out.decision.kind = Decision::Kind::reject;
    out.decision.retry_after = ceil_ms(new_tat - now - capacity);
    fill_quota(out.decision, interval, burst, current, now);
    return out;
  }
  const Micros excess = new_tat - now - interval;  // nginx's excess / rate
  if (excess > Micros(0) && !nodelay) {
    out.decision.kind = Decision::Kind::delay;
    out.decision.delay = ceil_ms(excess);
  } else {
    out.decision.kind = Decision::Kind::allow;
  }
  fill_quota(out.decision, interval, burst, new_tat, now);
  out.new_tat = new_tat;
  return out;
}

GcraOutcome gcra_check(const Policy& policy, std::optional<Micros> tat, Micros now) {
  return gcra_check(emission_interval(policy), policy.burst, policy.nodelay, tat, now);
}

}  // namespace bastion::rate_limit
