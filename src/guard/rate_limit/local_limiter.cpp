#include "guard/rate_limit/local_limiter.hpp"

#include <atomic>
#include <bit>
#include <limits>
#include <mutex>
#include <string>
#include <unordered_map>

namespace bastion::rate_limit {

namespace {

struct TransparentHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

// zone and key joined by a NUL: zone names come from config and never contain one.
void composite_key(std::string& out, std::string_view zone, std::string_view key) {
  out.clear();
  out.reserve(zone.size() + 1 + key.size());
  out.append(zone);
  out.push_back('\0');
  out.append(key);
}

}  // namespace

struct LocalLimiter::Shard {
  mutable std::mutex mutex;
  std::unordered_map<std::string, std::int64_t, TransparentHash, std::equal_to<>> states;
  std::atomic<std::uint64_t> forced{0};

  // Called with the mutex held when the shard is full: drop expired states; if none, drop the
  // state closest to expiry. One pass over the shard, only when it is full.
  void make_room(std::int64_t now_us) {
    auto victim = states.end();
    std::int64_t victim_tat = std::numeric_limits<std::int64_t>::max();
    std::size_t erased = 0;
    for (auto it = states.begin(); it != states.end();) {
      if (it->second <= now_us) {
        it = states.erase(it);
        ++erased;
        continue;
      }
      if (it->second < victim_tat) {
        victim_tat = it->second;
        victim = it;
      }
      ++it;
    }
    if (erased == 0 && victim != states.end()) {
      states.erase(victim);
      forced.fetch_add(1, std::memory_order_relaxed);
    }
  }
};

LocalLimiter::LocalLimiter(LocalLimiterOptions options) {
  const std::size_t shards = std::bit_ceil(std::max<std::size_t>(1, options.shards));
  shard_mask_ = shards - 1;
  per_shard_limit_ =
      std::max<std::size_t>(1, (std::max<std::size_t>(1, options.max_keys) + shards - 1) / shards);
  shards_ = std::make_unique<Shard[]>(shards);
}

LocalLimiter::~LocalLimiter() = default;

Decision LocalLimiter::check(const Policy& policy, std::string_view key, Clock::time_point now) {
  thread_local std::string composite;
  composite_key(composite, policy.zone, key);
  const std::size_t hash = TransparentHash{}(composite);
  // The map hashes again with the same function; the high bits pick the shard so that the
  // buckets inside a shard stay well spread.
  Shard& shard = shards_[(hash >> 7) & shard_mask_];
  const Micros now_us = std::chrono::duration_cast<Micros>(now.time_since_epoch());

  std::lock_guard lock(shard.mutex);
  auto it = shard.states.find(std::string_view(composite));
  std::optional<Micros> tat;
  if (it != shard.states.end()) {
    tat = Micros(it->second);
  }
  GcraOutcome out = gcra_check(policy, tat, now_us);
  if (out.new_tat) {
    if (it != shard.states.end()) {
      it->second = out.new_tat->count();
    } else {
      if (shard.states.size() >= per_shard_limit_) {
        shard.make_room(now_us.count());
      }
      shard.states.emplace(composite, out.new_tat->count());
    }
  }
  return out.decision;
}

std::size_t LocalLimiter::size() const {
  std::size_t total = 0;
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    total += shards_[i].states.size();
  }
  return total;
}

std::uint64_t LocalLimiter::forced_evictions() const {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    total += shards_[i].forced.load(std::memory_order_relaxed);
  }
  return total;
}

}  // namespace bastion::rate_limit
