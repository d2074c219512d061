#pragma once
// When an upstream needs attention, and what to do about it (monitoring.triggers/actions).
// Pure logic, driven by the supervisor with one observation per sample interval; not thread-safe.
//
//   condition         measured on                      action (when configured)
//   memory            one replica's process-group RSS   restart that replica
//   memory_forecast   its least-squares trend           restart it before it crosses
//   latency           upstream p95 over the window      add a replica (up to max_replicas)
//   latency_forecast  trend of that p95                 add a replica before it crosses
//   queueing          in-flight calls per live replica  add a replica
//   error_rate        upstream errors / calls           restart its replicas, one after another
// Every firing condition is also an alert. Extra replicas are removed after scale_in_after without
// latency or queueing pressure. Cool-downs keep one upstream from flapping: a restarted replica is
// left alone for `cooldown`, and so are scale steps and error-rate restarts of the upstream.
// Forecasts need `min_samples` points and a fit with r² >= kMinFit, so noise does not act.
#include <cstddef>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "observe/trend.hpp"
#include "observe/windowed_stats.hpp"

namespace bastion::observe {

struct ReplicaObservation {
  std::size_t slot = 0;
  long pid = 0;  // identifies the process: a new pid starts a new memory series
  bool up = false;
  double rss_bytes = 0;
};

struct UpstreamObservation {
  double now = 0;                           // seconds on a monotonic clock
  std::vector<ReplicaObservation> replicas;  // stdio replicas only
  WindowSummary window;                      // the upstream's calls over triggers.window
  std::size_t in_flight = 0;
  std::size_t replicas_up = 0;
  std::size_t base_replicas = 0;  // as configured
  std::size_t replica_count = 0;  // now, with scaled-out ones
  bool supervised = true;         // stdio replicas Bastion can restart and add
};

enum class ActionKind { restart_replica, scale_out, scale_in };

struct Decision {
  ActionKind kind = ActionKind::restart_replica;
  std::size_t slot = 0;  // restart_replica only
  std::string reason;    // the condition's name (a metric label)
};

struct Condition {
  std::string name;              // memory, memory_forecast, latency, ...
  std::optional<std::size_t> replica;
  double value = 0;              // bytes, seconds, or a ratio
  double threshold = 0;
  std::optional<double> seconds_to_threshold;  // forecasts
  std::string summary;           // one line for people
};

struct ReplicaForecast {
  std::size_t slot = 0;
  double rss_bytes = 0;
  std::optional<double> slope_bytes_per_second;
  std::optional<double> seconds_to_threshold;
  std::vector<TrendPoint> history;  // t relative to the observation's `now`
};

struct UpstreamForecast {
  std::vector<ReplicaForecast> memory;
  double latency_p95_seconds = 0;
  std::optional<double> latency_slope;  // seconds per second
  std::optional<double> latency_seconds_to_threshold;
};

class UpstreamTriggers {
 public:
  static constexpr double kMinFit = 0.5;

  explicit UpstreamTriggers(core::UpstreamMonitoring settings);
  void reconfigure(core::UpstreamMonitoring settings) { settings_ = std::move(settings); }
  const core::UpstreamMonitoring& settings() const { return settings_; }

  // Updates the series and returns the actions due now (the caller performs them).
  std::vector<Decision> evaluate(const UpstreamObservation& observation);
  // The conditions that held at the last evaluation (each one an alert).
  const std::vector<Condition>& conditions() const { return conditions_; }
  const UpstreamForecast& forecast() const { return forecast_; }

 private:
  struct ReplicaState {
    long pid = 0;
    TrendSeries memory;
    double last_restart = -std::numeric_limits<double>::infinity();
  };
  bool cooled(double last, double now) const;
  std::optional<Trend> usable_fit(const TrendSeries& series) const;

  core::UpstreamMonitoring settings_;
  std::map<std::size_t, ReplicaState> replicas_;
  TrendSeries latency_;
  double last_scale_ = -std::numeric_limits<double>::infinity();
  double last_error_restart_ = -std::numeric_limits<double>::infinity();
  double last_pressure_ = -std::numeric_limits<double>::infinity();
  std::vector<Condition> conditions_;
  UpstreamForecast forecast_;
};

// "1.2 GiB", "850 MiB": for summaries.
std::string human_bytes(double bytes);

}  // namespace bastion::observe
