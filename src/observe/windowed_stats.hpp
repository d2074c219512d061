#pragma once
// Count, error rate and latency percentiles over the last N seconds, in bounded memory. Pure logic.
//
// Layout: a ring of one bucket per second (capacity seconds, at most kMaxCapacity). Each bucket
// holds exact count, errors, sum, min and max, and a fixed log histogram of latencies: 4 bins per
// power of two from 2^-20 s (~1 us) to 2^8 s (256 s), plus one bin below and one above.
// Accuracy: count, errors, error rate, mean, min and max are exact. A percentile is the nearest-rank
// sample's bin, reported as the bin's geometric midpoint clamped to the window's [min, max]: within
// kMaxRelativeError (2^(1/8) - 1, about 9.05%) of the exact nearest-rank value for latencies in
// [1 us, 256 s); below 1 us the error is under 1 us; above 256 s the window max is reported.
// Memory: about 500 bytes per second of capacity (60 s -> ~30 KiB).
// Resolution is one second: a window of N seconds covers the current (partial) second and the N-1
// before it. Samples older than the ring are dropped. Not thread-safe: the owner serialises access.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace bastion::observe {

struct WindowSummary {
  std::uint64_t count = 0;
  std::uint64_t errors = 0;
  double error_rate = 0.0;  // errors / count; 0 when empty
  // Latency in seconds over every sample, ok or not; all 0 when the window is empty.
  double p50 = 0.0;
  double p95 = 0.0;
  double p99 = 0.0;
  double min = 0.0;
  double max = 0.0;
  double mean = 0.0;
};

class WindowedStats {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kMaxCapacitySeconds = 3600;
  static constexpr double kMaxRelativeError = 0.0906;

  // capacity: the longest window that can be queried, clamped to [1 s, kMaxCapacitySeconds].
  explicit WindowedStats(std::chrono::seconds capacity = std::chrono::seconds(60));

  // NaN latencies are ignored; negative ones count as 0.
  void record(Clock::time_point at, double latency_seconds, bool ok);
  // window is clamped to [1 s, capacity].
  WindowSummary summary(Clock::time_point now, std::chrono::seconds window) const;
  // Nearest-rank percentile, q in [0, 1]; 0 when the window is empty.
  double percentile(Clock::time_point now, std::chrono::seconds window, double q) const;

  std::chrono::seconds capacity() const noexcept { return std::chrono::seconds(static_cast<long>(ring_.size())); }

  static constexpr int kBinsPerOctave = 4;
  static constexpr int kMinExponent = -20;
  static constexpr int kMaxExponent = 8;
  static constexpr std::size_t kBins = static_cast<std::size_t>((kMaxExponent - kMinExponent) * kBinsPerOctave) + 2;
  // Which bin a latency falls into (exposed for tests).
  static std::size_t bin_of(double latency_seconds) noexcept;

 private:
  struct Second {
    std::int64_t tag = INT64_MIN;  // which second this slot holds
    std::uint64_t count = 0;
    std::uint64_t errors = 0;
    double sum = 0.0;
    double min = 0.0;
    double max = 0.0;
    std::uint32_t bins[kBins] = {};
  };
  struct Merged {
    std::uint64_t count = 0;
    std::uint64_t errors = 0;
    double sum = 0.0;
    double min = 0.0;
    double max = 0.0;
    std::vector<std::uint64_t> bins;
  };
  Merged merge(Clock::time_point now, std::chrono::seconds window) const;
  static double percentile_of(const Merged& merged, double q);

  std::vector<Second> ring_;
};

}  // namespace bastion::observe
