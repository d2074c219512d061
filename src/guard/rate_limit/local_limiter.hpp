#pragma once
// In-process rate limiter: key -> GCRA state (one TAT), sharded by key hash, each shard behind
// its own mutex. The number of keys is bounded; expired states (TAT not in the future, which is
// the same as no state) are evicted when a shard fills up, and if every state is live the one
// closest to expiry goes (it is the one that forgets the least), as nginx drops LRU nodes when
// its zone is full.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "guard/rate_limit/gcra.hpp"
#include "guard/rate_limit/rate.hpp"

namespace bastion::rate_limit {

struct LocalLimiterOptions {
  std::size_t max_keys = 100'000;  // over all zones and shards
  std::size_t shards = 16;         // rounded up to a power of two
};

class LocalLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LocalLimiter(LocalLimiterOptions options = {});
  ~LocalLimiter();
  LocalLimiter(const LocalLimiter&) = delete;
  LocalLimiter& operator=(const LocalLimiter&) = delete;

  // Thread-safe. Keys of different zones never share state.
  Decision check(const Policy& policy, std::string_view key, Clock::time_point now);

  std::size_t size() const;                // live + not yet evicted states
  std::uint64_t forced_evictions() const;  // live states dropped because the table was full

 private:
  struct Shard;
  std::size_t shard_mask_;
  std::size_t per_shard_limit_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace bastion::rate_limit
