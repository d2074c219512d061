#pragma once
// Trend of a resource over time (a replica's memory, an upstream's latency), for acting before a
// threshold is crossed. Ordinary least squares over the points in a sliding window: unlike
// exponential smoothing it needs no tuning constant and copes with irregular sampling intervals
// (a slow scrape, a paused process). Pure logic, not thread-safe.
#include <cstddef>
#include <deque>
#include <optional>

namespace bastion::observe {

struct TrendPoint {
  double t = 0;  // seconds, any origin (the same for every point of a series)
  double v = 0;
};

struct Trend {
  double slope = 0;      // units per second
  double intercept = 0;  // value at t = 0
  double r2 = 0;         // goodness of fit in [0, 1]; 1 when every point lies on the line
  std::size_t samples = 0;
  double at(double t) const { return intercept + slope * t; }
};

// nullopt with fewer than two points or when all points share one instant.
template <class Range>
std::optional<Trend> fit_trend(const Range& points);

// Seconds after `now` until the fitted line reaches `threshold`: 0 when it already has, nullopt
// when it never will (flat or falling).
std::optional<double> seconds_until(const Trend& trend, double now, double threshold);

// A sliding window of points: keeps those newer than `window_seconds` before the latest point,
// and at most `max_points`.
class TrendSeries {
 public:
  TrendSeries(double window_seconds, std::size_t max_points = 720)
      : window_(window_seconds), max_points_(max_points) {}

  void add(double t, double v);
  void clear() { points_.clear(); }
  std::size_t size() const { return points_.size(); }
  bool empty() const { return points_.empty(); }
  const TrendPoint& latest() const { return points_.back(); }
  const std::deque<TrendPoint>& points() const { return points_; }
  std::optional<Trend> fit() const { return fit_trend(points_); }

 private:
  double window_;
  std::size_t max_points_;
  std::deque<TrendPoint> points_;
};

template <class Range>
std::optional<Trend> fit_trend(const Range& points) {
  std::size_t n = 0;
  double mean_t = 0, mean_v = 0;
  for (const TrendPoint& p : points) {  // running means: no cancellation with large t
    ++n;
    mean_t += (p.t - mean_t) / double(n);
    mean_v += (p.v - mean_v) / double(n);
  }
  if (n < 2) return std::nullopt;
  double stt = 0, stv = 0, svv = 0;
  for (const TrendPoint& p : points) {
    double dt = p.t - mean_t, dv = p.v - mean_v;
    stt += dt * dt;
    stv += dt * dv;
    svv += dv * dv;
  }
  if (stt <= 0) return std::nullopt;
  Trend trend;
  trend.samples = n;
  trend.slope = stv / stt;
  trend.intercept = mean_v - trend.slope * mean_t;
  trend.r2 = svv > 0 ? (stv * stv) / (stt * svv) : 1.0;
  return trend;
}

}  // namespace bastion::observe
