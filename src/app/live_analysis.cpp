#include "app/live_analysis.hpp"

#include "app/recording.hpp"
#include "observe/alert_payload.hpp"
#include "record/analysis/store_analysis.hpp"

namespace bastion::app {

namespace {
observe::LatencyStats latency_stats(const observe::WindowSummary& w, std::uint64_t timeouts) {
  observe::LatencyStats s;
  s.count = w.count;
  s.errors = w.errors;
  s.timeouts = timeouts;
  s.p50_ms = w.p50 * 1000;
  s.p95_ms = w.p95 * 1000;
  s.p99_ms = w.p99 * 1000;
  s.mean_ms = w.mean * 1000;
  s.max_ms = w.max * 1000;
  return s;
}
}  // namespace

bool needs_store(const core::Config& config, const LiveView& view, std::chrono::seconds window) {
  return config.store.enabled && window > view.calls_capacity;
}

observe::AnalysisInput live_analysis_input(const core::Config& config, const LiveView& view, std::chrono::seconds window) {
  const auto& triggers = config.monitoring.defaults.triggers;
  observe::AnalysisInput in;
  in.source = "live";
  in.window_seconds = double(window.count());
  in.thresholds.latency_ms = double(triggers.latency.count());
  in.thresholds.error_rate = triggers.error_rate;
  in.thresholds.memory_bytes = double(triggers.memory_bytes);
  in.thresholds.queue_per_replica = triggers.queue_per_replica;
  const auto now = std::chrono::steady_clock::now();
  if (view.calls && !needs_store(config, view, window)) {
    if (window > view.calls_capacity) {
      in.notes.push_back("the store is off: calls cover the last " + std::to_string(view.calls_capacity.count()) +
                         " s the live windows keep, not the whole window");
      window = view.calls_capacity;
    }
    for (const auto& t : view.calls->tools(now, window)) {
      in.tools.push_back({t.upstream, t.tool, latency_stats(t.window, t.timeouts)});
    }
    for (const auto& u : view.upstreams) {
      auto w = view.calls->upstream_window(u.name, now, window);
      if (w.count > 0) in.agents.push_back({u.name, latency_stats(w, 0)});
    }
    for (const auto& p : view.calls->patterns(std::chrono::system_clock::now() - window)) {
      // Counted since the gateway started; first/last seen say when.
      in.errors.push_back({p.upstream, p.tool, p.status, p.error_code, p.message_shape, p.count,
                           observe::rfc3339(p.first_seen), observe::rfc3339(p.last_seen), {}});
    }
    if (view.calls->pattern_overflow() > 0) {
      in.notes.push_back(std::to_string(view.calls->pattern_overflow()) +
                         " errors did not fit the live pattern table (" +
                         std::to_string(observe::LiveStats::kMaxPatterns) + " patterns)");
    }
  }
  for (const auto& u : view.upstreams) {
    const auto& actions = config.monitoring.for_upstream(u.name).actions;
    in.queues.push_back({u.name, u.in_flight, u.replicas, u.replicas_up,
                         std::max<std::size_t>(actions.max_replicas, u.base_replicas)});
    auto it = view.assessments.find(u.name);
    if (it == view.assessments.end()) continue;
    for (const auto& m : it->second.forecast.memory) {
      observe::ReplicaMemory r;
      r.upstream = u.name;
      r.replica = static_cast<int>(m.slot);
      r.rss_bytes = m.rss_bytes;
      for (const auto& p : m.history) r.history.push_back({p.t, p.v});
      r.forecast_seconds_to_threshold = m.seconds_to_threshold;
      in.memory.push_back(std::move(r));
    }
  }
  return in;
}

bool add_store_analysis(const core::Config& config, std::chrono::seconds window, observe::AnalysisInput& live) {
  auto opened = open_store(config);
  if (auto* error = std::get_if<std::string>(&opened)) {
    live.notes.push_back("the knowledge base could not be read: " + *error);
    return false;
  }
  auto& store = *std::get<0>(opened);
  auto until = std::chrono::system_clock::now();
  auto result = record::analyze_store(store, until - window, until);
  if (!result.status.ok) {
    live.notes.push_back("the knowledge base could not be read: " + result.status.error);
    return false;
  }
  live.source = "live+store";
  live.tools = std::move(result.input.tools);
  live.agents = std::move(result.input.agents);
  live.errors = std::move(result.input.errors);
  for (auto& n : result.input.notes) live.notes.push_back(std::move(n));
  return true;
}

}  // namespace bastion::app
