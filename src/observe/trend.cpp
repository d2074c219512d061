#include "observe/trend.hpp"

#include <cmath>

namespace bastion::observe {

std::optional<double> seconds_until(const Trend& trend, double now, double threshold) {
  double level = trend.at(now);
  if (level >= threshold) return 0.0;
  if (!(trend.slope > 0) || !std::isfinite(trend.slope)) return std::nullopt;
  return (threshold - level) / trend.slope;
}

void TrendSeries::add(double t, double v) {
  if (!std::isfinite(t) || !std::isfinite(v)) return;
  if (!points_.empty() && t < points_.back().t) points_.clear();  // clock went back: start over
  points_.push_back({t, v});
  while (points_.size() > max_points_ || (points_.size() > 1 && points_.front().t < t - window_)) {
    points_.pop_front();
  }
}

}  // namespace bastion::observe
