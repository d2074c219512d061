#include "observe/windowed_stats.hpp"

#include <algorithm>
#include <cmath>

namespace bastion::observe {

namespace {

std::int64_t second_of(WindowedStats::Clock::time_point t) {
  return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::size_t slot_of(std::int64_t second, std::size_t size) {
  const auto n = static_cast<std::int64_t>(size);
  return static_cast<std::size_t>(((second % n) + n) % n);
}

// Lower bound of bin b (1 .. kBins-2): 2^(kMinExponent + (b-1)/4).
double bin_lower(std::size_t bin) {
  return std::exp2(WindowedStats::kMinExponent +
                   static_cast<double>(bin - 1) / WindowedStats::kBinsPerOctave);
}

}  // namespace

WindowedStats::WindowedStats(std::chrono::seconds capacity)
    : ring_(static_cast<std::size_t>(
          std::clamp<std::int64_t>(capacity.count(), 1, static_cast<std::int64_t>(kMaxCapacitySeconds)))) {}

std::size_t WindowedStats::bin_of(double v) noexcept {
  static const double min_value = std::exp2(kMinExponent);
  static const double max_value = std::exp2(kMaxExponent);
  // Thresholds inside one octave, for a mantissa scaled to [1, 2).
  static const double steps[kBinsPerOctave - 1] = {std::exp2(0.25), std::exp2(0.5), std::exp2(0.75)};
  if (!(v >= min_value)) return 0;
  if (v >= max_value) return kBins - 1;
  int exponent = 0;
  const double mantissa = 2.0 * std::frexp(v, &exponent);  // v = mantissa * 2^(exponent-1)
  const auto octave = static_cast<std::size_t>(exponent - 1 - kMinExponent);
  const auto sub = static_cast<std::size_t>(std::upper_bound(std::begin(steps), std::end(steps), mantissa) -
                                            std::begin(steps));
  return 1 + octave * kBinsPerOctave + sub;
}

void WindowedStats::record(Clock::time_point at, double latency, bool ok) {
  if (std::isnan(latency)) return;
  latency = std::max(latency, 0.0);
  const auto second = second_of(at);
  Second& slot = ring_[slot_of(second, ring_.size())];
  if (slot.tag > second) return;  // older than the ring holds
  if (slot.tag < second) slot = Second{.tag = second};
  if (slot.count == 0) {
    slot.min = latency;
    slot.max = latency;
  } else {
    slot.min = std::min(slot.min, latency);
    slot.max = std::max(slot.max, latency);
  }
  slot.count += 1;
  if (!ok) slot.errors += 1;
  slot.sum += latency;
  auto& bin = slot.bins[bin_of(latency)];
  if (bin != UINT32_MAX) bin += 1;
}

WindowedStats::Merged WindowedStats::merge(Clock::time_point now, std::chrono::seconds window) const {
  const auto n = std::clamp<std::int64_t>(window.count(), 1, static_cast<std::int64_t>(ring_.size()));
  const auto last = second_of(now);
  Merged merged;
  merged.bins.assign(kBins, 0);
  for (auto second = last - n + 1; second <= last; ++second) {
    const Second& slot = ring_[slot_of(second, ring_.size())];
    if (slot.tag != second || slot.count == 0) continue;
    merged.min = merged.count == 0 ? slot.min : std::min(merged.min, slot.min);
    merged.max = merged.count == 0 ? slot.max : std::max(merged.max, slot.max);
    merged.count += slot.count;
    merged.errors += slot.errors;
    merged.sum += slot.sum;
    for (std::size_t b = 0; b < kBins; ++b) merged.bins[b] += slot.bins[b];
  }
  return merged;
}

double WindowedStats::percentile_of(const Merged& merged, double q) {
  if (merged.count == 0) return 0.0;
  q = std::clamp(std::isnan(q) ? 0.0 : q, 0.0, 1.0);
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(merged.count))));
  // The extreme ranks are known exactly.
  if (rank == 1) return merged.min;
  if (rank >= merged.count) return merged.max;
  std::uint64_t seen = 0;
  std::size_t bin = kBins - 1;
  for (std::size_t b = 0; b < kBins; ++b) {
    seen += merged.bins[b];
    if (seen >= rank) {
      bin = b;
      break;
    }
  }
  double estimate = 0.0;
  if (bin == 0) {
    estimate = merged.min;  // below ~1 us: anything in [min, 1 us) is close enough
  } else if (bin == kBins - 1) {
    estimate = merged.max;
  } else {
    estimate = bin_lower(bin) * std::exp2(0.5 / kBinsPerOctave);
  }
  return std::clamp(estimate, merged.min, merged.max);
}

WindowSummary WindowedStats::summary(Clock::time_point now, std::chrono::seconds window) const {
  const Merged merged = merge(now, window);
  WindowSummary out;
  out.count = merged.count;
  out.errors = merged.errors;
  if (merged.count == 0) return out;
  out.error_rate = static_cast<double>(merged.errors) / static_cast<double>(merged.count);
  out.p50 = percentile_of(merged, 0.50);
  out.p95 = percentile_of(merged, 0.95);
  out.p99 = percentile_of(merged, 0.99);
  out.min = merged.min;
  out.max = merged.max;
  out.mean = merged.sum / static_cast<double>(merged.count);
  return out;
}

double WindowedStats::percentile(Clock::time_point now, std::chrono::seconds window, double q) const {
  return percentile_of(merge(now, window), q);
}

}  // namespace bastion::observe
