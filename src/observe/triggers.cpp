#include "observe/triggers.hpp"

#include <cmath>
#include <cstdio>

namespace bastion::observe {

namespace {
double seconds(std::chrono::milliseconds d) { return double(d.count()) / 1000.0; }

std::string format(const char* fmt, auto... args) {
  char buffer[256];
  std::snprintf(buffer, sizeof buffer, fmt, args...);
  return buffer;
}
}  // namespace

std::string human_bytes(double bytes) {
  if (bytes >= double(1ull << 30)) return format("%.2f GiB", bytes / double(1ull << 30));
  if (bytes >= double(1ull << 20)) return format("%.0f MiB", bytes / double(1ull << 20));
  return format("%.0f KiB", bytes / 1024.0);
}

UpstreamTriggers::UpstreamTriggers(core::UpstreamMonitoring settings)
    : settings_(std::move(settings)), latency_(seconds(settings_.triggers.window)) {}

bool UpstreamTriggers::cooled(double last, double now) const {
  return now - last >= seconds(settings_.triggers.cooldown);
}

std::optional<Trend> UpstreamTriggers::usable_fit(const TrendSeries& series) const {
  if (series.size() < settings_.triggers.min_samples) return std::nullopt;
  auto fit = series.fit();
  if (!fit || fit->r2 < kMinFit) return std::nullopt;
  return fit;
}

std::vector<Decision> UpstreamTriggers::evaluate(const UpstreamObservation& o) {
  const auto& t = settings_.triggers;
  const auto& a = settings_.actions;
  const double horizon = seconds(t.horizon);
  std::vector<Decision> decisions;
  conditions_.clear();
  forecast_ = UpstreamForecast{};

  // Memory, per replica.
  std::map<std::size_t, ReplicaState> seen;
  for (const auto& r : o.replicas) {
    if (!r.up || r.pid <= 0) continue;
    auto it = replicas_.find(r.slot);
    ReplicaState state = it != replicas_.end() && it->second.pid == r.pid
                             ? std::move(it->second)
                             : ReplicaState{r.pid, TrendSeries(seconds(t.window)),
                                            it != replicas_.end() ? it->second.last_restart
                                                                  : -std::numeric_limits<double>::infinity()};
    state.memory.add(o.now, r.rss_bytes);
    ReplicaForecast f{r.slot, r.rss_bytes, std::nullopt, std::nullopt, {}};
    for (const auto& p : state.memory.points()) f.history.push_back({p.t - o.now, p.v});
    const double limit = double(t.memory_bytes);
    std::optional<Condition> condition;
    if (auto fit = state.memory.size() >= 2 ? state.memory.fit() : std::nullopt) f.slope_bytes_per_second = fit->slope;
    if (limit > 0) {
      if (auto fit = usable_fit(state.memory)) f.seconds_to_threshold = seconds_until(*fit, o.now, limit);
      if (r.rss_bytes >= limit) {
        condition = Condition{"memory", r.slot, r.rss_bytes, limit, std::nullopt,
                              format("replica %zu uses %s, above the %s memory trigger", r.slot,
                                     human_bytes(r.rss_bytes).c_str(), human_bytes(limit).c_str())};
      } else if (t.predict && f.seconds_to_threshold && *f.seconds_to_threshold <= horizon) {
        condition = Condition{"memory_forecast", r.slot, r.rss_bytes, limit, f.seconds_to_threshold,
                              format("replica %zu uses %s and grows %s/s: it reaches %s in %.0f s", r.slot,
                                     human_bytes(r.rss_bytes).c_str(),
                                     human_bytes(f.slope_bytes_per_second.value_or(0)).c_str(),
                                     human_bytes(limit).c_str(), *f.seconds_to_threshold)};
      }
    }
    if (condition) {
      if (a.restart_service && o.supervised && cooled(state.last_restart, o.now)) {
        decisions.push_back({ActionKind::restart_replica, r.slot, condition->name});
        state.last_restart = o.now;
      }
      conditions_.push_back(std::move(*condition));
    }
    forecast_.memory.push_back(std::move(f));
    seen.emplace(r.slot, std::move(state));
  }
  replicas_ = std::move(seen);

  // Latency and errors, over the upstream's calls.
  const bool enough_calls = o.window.count >= t.min_calls;
  const double latency_limit = seconds(t.latency);
  forecast_.latency_p95_seconds = o.window.p95;
  bool pressure = false;
  if (enough_calls) latency_.add(o.now, o.window.p95);
  if (auto fit = latency_.size() >= 2 ? latency_.fit() : std::nullopt) forecast_.latency_slope = fit->slope;
  if (latency_limit > 0) {
    if (auto fit = usable_fit(latency_)) forecast_.latency_seconds_to_threshold = seconds_until(*fit, o.now, latency_limit);
    if (enough_calls && o.window.p95 >= latency_limit) {
      conditions_.push_back({"latency", std::nullopt, o.window.p95, latency_limit, std::nullopt,
                             format("p95 latency %.2f s over the last %.0f s exceeds the %.2f s trigger", o.window.p95,
                                    seconds(t.window), latency_limit)});
      pressure = true;
    } else if (t.predict && enough_calls && forecast_.latency_seconds_to_threshold &&
               *forecast_.latency_seconds_to_threshold <= horizon) {
      conditions_.push_back({"latency_forecast", std::nullopt, o.window.p95, latency_limit,
                             forecast_.latency_seconds_to_threshold,
                             format("p95 latency %.2f s is rising: it reaches the %.2f s trigger in %.0f s",
                                    o.window.p95, latency_limit, *forecast_.latency_seconds_to_threshold)});
      pressure = true;
    }
  }
  if (o.replicas_up > 0 && double(o.in_flight) >= t.queue_per_replica * double(o.replicas_up)) {
    conditions_.push_back({"queueing", std::nullopt, double(o.in_flight), t.queue_per_replica * double(o.replicas_up),
                           std::nullopt,
                           format("%zu calls in flight on %zu replica(s)", o.in_flight, o.replicas_up)});
    pressure = true;
  }
  if (t.error_rate > 0 && enough_calls && o.window.error_rate >= t.error_rate) {
    conditions_.push_back({"error_rate", std::nullopt, o.window.error_rate, t.error_rate, std::nullopt,
                           format("%.1f%% of %llu calls failed over the last %.0f s (trigger %.1f%%)",
                                  100 * o.window.error_rate, static_cast<unsigned long long>(o.window.count),
                                  seconds(t.window), 100 * t.error_rate)});
    if (a.restart_service && o.supervised && cooled(last_error_restart_, o.now)) {
      for (const auto& r : o.replicas) {
        if (!r.up) continue;
        decisions.push_back({ActionKind::restart_replica, r.slot, "error_rate"});
        if (auto it = replicas_.find(r.slot); it != replicas_.end()) it->second.last_restart = o.now;
      }
      last_error_restart_ = o.now;
    }
  }

  // Horizontal scaling.
  if (pressure) last_pressure_ = o.now;
  if (o.supervised && a.max_replicas > 0) {
    if (pressure && o.replica_count < a.max_replicas && cooled(last_scale_, o.now)) {
      std::string reason = "queueing";
      for (const auto& c : conditions_) {
        if (c.name == "latency" || c.name == "latency_forecast") reason = c.name;
      }
      decisions.push_back({ActionKind::scale_out, 0, reason});
      last_scale_ = o.now;
    } else if (!pressure && o.replica_count > o.base_replicas && o.now - last_pressure_ >= seconds(a.scale_in_after) &&
               o.now - last_scale_ >= seconds(a.scale_in_after)) {
      decisions.push_back({ActionKind::scale_in, 0, "idle"});
      last_scale_ = o.now;
    }
  }
  return decisions;
}

}  // namespace bastion::observe
