#include "upstream/stdio/restart_backoff.hpp"

#include <algorithm>
#include <cmath>

namespace bastion::upstream::stdio {

namespace {

RestartPolicy sanitize(RestartPolicy p) {
  using std::chrono::milliseconds;
  p.initial = std::max(p.initial, milliseconds{0});
  p.max = std::max(p.max, p.initial);
  if (!(p.multiplier >= 1.0)) p.multiplier = 1.0;  // also rejects NaN
  p.max_restarts_in_window = std::max(p.max_restarts_in_window, 0);
  p.window = std::max(p.window, std::chrono::seconds{0});
  if (!(p.jitter >= 0.0)) p.jitter = 0.0;
  p.jitter = std::min(p.jitter, 1.0);
  return p;
}

}  // namespace

RestartBackoff::RestartBackoff(RestartPolicy policy)
    : RestartBackoff(policy, std::random_device{}()) {}

RestartBackoff::RestartBackoff(RestartPolicy policy, std::uint64_t seed)
    : policy_(sanitize(policy)), rng_(seed) {}

std::chrono::milliseconds RestartBackoff::base_delay() const {
  // Computed in double and capped before converting, so many exits cannot overflow.
  const double initial = static_cast<double>(policy_.initial.count());
  const double cap = static_cast<double>(policy_.max.count());
  const int exponent = std::max(consecutive_ - 1, 0);
  const double d = std::min(initial * std::pow(policy_.multiplier, exponent), cap);
  return std::chrono::milliseconds{static_cast<std::int64_t>(d)};
}

std::optional<std::chrono::milliseconds> RestartBackoff::on_exit(
    std::chrono::steady_clock::time_point now) {
  if (failed_) return std::nullopt;
  while (!exits_.empty() && now - exits_.front() >= policy_.window) exits_.pop_front();
  exits_.push_back(now);
  if (exits_.size() > static_cast<std::size_t>(policy_.max_restarts_in_window)) {
    failed_ = true;
    return std::nullopt;
  }
  ++consecutive_;
  const auto d = base_delay();
  if (policy_.jitter <= 0.0 || d.count() == 0) return d;
  const double lo = static_cast<double>(d.count()) * (1.0 - policy_.jitter);
  std::uniform_real_distribution<double> dist(lo, static_cast<double>(d.count()));
  return std::chrono::milliseconds{static_cast<std::int64_t>(dist(rng_))};
}

void RestartBackoff::on_healthy() { consecutive_ = 0; }

void RestartBackoff::reset() {
  exits_.clear();
  consecutive_ = 0;
  failed_ = false;
}

}  // namespace bastion::upstream::stdio
