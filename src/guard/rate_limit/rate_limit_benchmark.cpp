// LocalLimiter::check cost: one hot key, many keys, and one key contended from two threads.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "guard/rate_limit/local_limiter.hpp"

namespace {

using bastion::rate_limit::LocalLimiter;
using bastion::rate_limit::Policy;

// A huge burst keeps every path on "allow" (the full computation and a store).
const Policy kPolicy{"bench", 1e6, 4'000'000'000u, true};

LocalLimiter& shared_limiter() {
  static LocalLimiter limiter;
  return limiter;
}

void BM_OneKey(benchmark::State& state) {
  LocalLimiter limiter;
  auto now = LocalLimiter::Clock::now();
  for (auto _ : state) {
    benchmark::DoNotOptimize(limiter.check(kPolicy, "10.0.0.1", now));
  }
}
BENCHMARK(BM_OneKey);

void BM_ManyKeys(benchmark::State& state) {
  LocalLimiter limiter;
  std::vector<std::string> keys;
  for (int i = 0; i < 50'000; ++i) {
    keys.push_back("10." + std::to_string(i / 65536) + "." + std::to_string((i / 256) % 256) + "." +
                   std::to_string(i % 256));
  }
  auto now = LocalLimiter::Clock::now();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(limiter.check(kPolicy, keys[i], now));
    i = i + 1 == keys.size() ? 0 : i + 1;
  }
}
BENCHMARK(BM_ManyKeys);

void BM_OneKeyContended(benchmark::State& state) {
  LocalLimiter& limiter = shared_limiter();
  auto now = LocalLimiter::Clock::now();
  for (auto _ : state) {
    benchmark::DoNotOptimize(limiter.check(kPolicy, "10.0.0.1", now));
  }
}
BENCHMARK(BM_OneKeyContended)->Threads(2);

}  // namespace

BENCHMARK_MAIN();
