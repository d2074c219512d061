#include "observe/windowed_stats.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace bastion::observe {
namespace {

using Clock = WindowedStats::Clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

struct Sample {
  Clock::time_point at;
  double latency;
  bool ok;
};

Clock::time_point at_ms(std::int64_t ms) { return Clock::time_point(milliseconds(ms)); }

// Nearest rank: the smallest value with at least ceil(q * n) values at or below it.
double brute_percentile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const auto rank = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size()))));
  return values[rank - 1];
}

std::vector<double> in_window(const std::vector<Sample>& samples, Clock::time_point now, seconds window) {
  const auto last = std::chrono::floor<seconds>(now.time_since_epoch()).count();
  std::vector<double> out;
  for (const auto& s : samples) {
    const auto sec = std::chrono::floor<seconds>(s.at.time_since_epoch()).count();
    if (sec <= last && sec > last - window.count()) out.push_back(s.latency);
  }
  return out;
}

TEST(WindowedStats, BinsAreMonotonicAndCoverTheRange) {
  EXPECT_EQ(WindowedStats::bin_of(0.0), 0u);
  EXPECT_EQ(WindowedStats::bin_of(-1.0), 0u);
  EXPECT_EQ(WindowedStats::bin_of(1e-7), 0u);
  EXPECT_EQ(WindowedStats::bin_of(300.0), WindowedStats::kBins - 1);
  EXPECT_EQ(WindowedStats::bin_of(std::exp2(-20)), 1u);
  EXPECT_EQ(WindowedStats::bin_of(1.0), 1u + 20u * 4u);
  EXPECT_EQ(WindowedStats::bin_of(std::nextafter(256.0, 0.0)), WindowedStats::kBins - 2);
  std::size_t previous = 0;
  for (double v = 1e-7; v < 500; v *= 1.01) {
    const auto bin = WindowedStats::bin_of(v);
    EXPECT_GE(bin, previous);
    EXPECT_LE(bin, previous + 1) << v;  // a 1% step never skips a ~19% bin
    previous = bin;
  }
}

TEST(WindowedStats, EmptyWindow) {
  WindowedStats stats;
  const auto s = stats.summary(at_ms(100000), seconds(10));
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.error_rate, 0.0);
  EXPECT_EQ(s.p99, 0.0);
  EXPECT_EQ(stats.percentile(at_ms(100000), seconds(10), 0.5), 0.0);
}

TEST(WindowedStats, SingleSampleIsExact) {
  WindowedStats stats;
  stats.record(at_ms(5500), 0.0123, false);
  const auto s = stats.summary(at_ms(5900), seconds(1));
  EXPECT_EQ(s.count, 1u);
  EXPECT_EQ(s.errors, 1u);
  EXPECT_EQ(s.error_rate, 1.0);
  EXPECT_EQ(s.p50, 0.0123);  // clamped to [min, max]
  EXPECT_EQ(s.p99, 0.0123);
  EXPECT_EQ(s.mean, 0.0123);
}

TEST(WindowedStats, WindowBoundariesAndExpiry) {
  WindowedStats stats(seconds(10));
  EXPECT_EQ(stats.capacity(), seconds(10));
  stats.record(at_ms(1000), 1.0, true);   // second 1
  stats.record(at_ms(1999), 1.0, false);  // second 1
  stats.record(at_ms(5000), 2.0, true);   // second 5
  EXPECT_EQ(stats.summary(at_ms(5000), seconds(1)).count, 1u);
  EXPECT_EQ(stats.summary(at_ms(5000), seconds(4)).count, 1u);   // seconds 2..5
  EXPECT_EQ(stats.summary(at_ms(5000), seconds(5)).count, 3u);   // seconds 1..5
  EXPECT_EQ(stats.summary(at_ms(5000), seconds(5)).errors, 1u);
  EXPECT_EQ(stats.summary(at_ms(10999), seconds(10)).count, 3u);  // seconds 1..10
  EXPECT_EQ(stats.summary(at_ms(11000), seconds(10)).count, 1u);  // second 1 left the window
  EXPECT_EQ(stats.summary(at_ms(11000), seconds(1000)).count, 1u);  // clamped to capacity

  // Second 11 reuses the slot of second 1; a late sample for second 1 is then dropped.
  stats.record(at_ms(11000), 3.0, true);
  stats.record(at_ms(1500), 1.0, true);
  EXPECT_EQ(stats.summary(at_ms(11000), seconds(10)).count, 2u);
  stats.record(at_ms(11000), NAN, true);  // ignored
  EXPECT_EQ(stats.summary(at_ms(11000), seconds(10)).count, 2u);
}

TEST(WindowedStats, MatchesBruteForce) {
  std::mt19937_64 rng(7);
  // Log-uniform latencies between 10 us and 100 s, with a slow tail, over 3 minutes of traffic.
  std::uniform_real_distribution<double> log_latency(std::log(1e-5), std::log(100.0));
  std::uniform_int_distribution<std::int64_t> jitter(0, 999);
  std::bernoulli_distribution fails(0.07);
  std::vector<Sample> samples;
  WindowedStats stats(seconds(120));
  for (std::int64_t second = 1000; second < 1180; ++second) {
    const int per_second = static_cast<int>(rng() % 200);
    for (int i = 0; i < per_second; ++i) {
      Sample s{at_ms(second * 1000 + jitter(rng)), std::exp(log_latency(rng)), !fails(rng)};
      samples.push_back(s);
      stats.record(s.at, s.latency, s.ok);
    }
  }
  const auto now = at_ms(1179500);
  for (const auto window : {seconds(1), seconds(10), seconds(60), seconds(120)}) {
    const auto values = in_window(samples, now, window);
    ASSERT_FALSE(values.empty());
    std::uint64_t errors = 0;
    double sum = 0;
    const auto last = std::chrono::floor<seconds>(now.time_since_epoch()).count();
    for (const auto& s : samples) {
      const auto sec = std::chrono::floor<seconds>(s.at.time_since_epoch()).count();
      if (sec <= last && sec > last - window.count()) {
        errors += s.ok ? 0 : 1;
        sum += s.latency;
      }
    }
    const auto summary = stats.summary(now, window);
    EXPECT_EQ(summary.count, values.size());
    EXPECT_EQ(summary.errors, errors);
    EXPECT_DOUBLE_EQ(summary.error_rate, static_cast<double>(errors) / static_cast<double>(values.size()));
    EXPECT_NEAR(summary.mean, sum / static_cast<double>(values.size()), 1e-9 * summary.mean);
    EXPECT_EQ(summary.min, *std::min_element(values.begin(), values.end()));
    EXPECT_EQ(summary.max, *std::max_element(values.begin(), values.end()));
    const std::pair<double, double> checks[] = {{0.5, summary.p50}, {0.95, summary.p95}, {0.99, summary.p99}};
    for (const auto& [q, estimate] : checks) {
      const double exact = brute_percentile(values, q);
      EXPECT_LE(std::fabs(estimate - exact) / exact, WindowedStats::kMaxRelativeError)
          << "window " << window.count() << "s q=" << q << " exact=" << exact << " estimate=" << estimate;
    }
    for (double q = 0.0; q <= 1.0; q += 0.05) {
      const double exact = brute_percentile(values, q);
      const double estimate = stats.percentile(now, window, q);
      EXPECT_LE(std::fabs(estimate - exact) / exact, WindowedStats::kMaxRelativeError) << "q=" << q;
    }
    EXPECT_EQ(stats.percentile(now, window, 1.0), summary.max);
    EXPECT_EQ(stats.percentile(now, window, 0.0), summary.min);
  }
}

}  // namespace
}  // namespace bastion::observe
