#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>

namespace bastion::upstream::stdio {

struct RestartPolicy {
  std::chrono::milliseconds initial{200};
  std::chrono::milliseconds max{30000};
  double multiplier = 2.0;
  int max_restarts_in_window = 5;
  std::chrono::seconds window{60};
  // Each delay is drawn uniformly from [d * (1 - jitter), d] so replicas that crash together do
  // not restart in lockstep. 0 disables jitter; values are clamped to [0, 1].
  double jitter = 0.2;
};

// Pure: exponential backoff with jitter and a crash-loop limit. Not thread-safe.
class RestartBackoff {
 public:
  explicit RestartBackoff(RestartPolicy policy);
  // Fixed seed for reproducible jitter in tests.
  RestartBackoff(RestartPolicy policy, std::uint64_t seed);

  // Records an exit at `now`; returns the delay before the next start, or nullopt when more than
  // max_restarts_in_window exits fall inside `window` (a crash loop: give up, state failed). Once
  // failed it stays failed until reset().
  std::optional<std::chrono::milliseconds> on_exit(std::chrono::steady_clock::time_point now);
  // The process stayed up long enough: the next delay starts again from `initial`.
  void on_healthy();
  // Forget everything (operator asked for a restart of a failed upstream).
  void reset();

  bool failed() const { return failed_; }
  // Number of consecutive exits since the last on_healthy()/reset().
  int consecutive_exits() const { return consecutive_; }
  // Exits currently inside the window.
  std::size_t exits_in_window() const { return exits_.size(); }
  const RestartPolicy& policy() const { return policy_; }

 private:
  std::chrono::milliseconds base_delay() const;

  RestartPolicy policy_;
  std::deque<std::chrono::steady_clock::time_point> exits_;  // at most max_restarts_in_window + 1
  int consecutive_ = 0;
  bool failed_ = false;
  std::mt19937_64 rng_;
};

}  // namespace bastion::upstream::stdio
