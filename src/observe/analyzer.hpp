#pragma once
// The bottleneck analyzer (`bastion analyze`, `GET /api/v1/analysis`): turns latency, error,
// memory and queueing figures into a report that names the slowest agent and tool, memory
// pressure, the most frequent error patterns, and a short list of findings, most severe first.
// Pure logic: no I/O, no Asio. The live side (metrics) and the store side (record/analysis) fill
// AnalysisInput; analyze() only reads it.
//
// How the figures are computed
// - Tools: as given. "Slowest tool" is the tool (tool != "") with the highest p95 (ties: higher
//   p99, then more calls, then name). A tool is flagged when p95 > thresholds.latency_ms.
// - Agents (upstreams): when AnalysisInput::agents has an entry for the upstream (computed over
//   all of its calls, e.g. one merged histogram), it is used as is ("percentiles": "merged").
//   Otherwise the tools of the upstream (tool "" included) are combined: count, errors, timeouts
//   summed, mean weighted by count, max = max; each percentile is the largest per-tool percentile
//   ("percentiles": "upper_bound"). That is an upper bound of the true merged percentile: at the
//   largest per-tool p95 every tool has >= 95% of its calls at or below it, so the mixture does
//   too. It is exact when one tool carries the traffic, and never hides a slow tool.
// - Error rate: errors / count per agent and per tool, flagged when > thresholds.error_rate.
//   "errors" is whatever the filler counts (both sides: error, timeout and unavailable; the
//   gateway's own refusals, denied and rate_limited, are not the agent's and are not counted).
// - Error patterns: as given, ranked by count (ties: last_seen, then key).
// - Memory: per replica, fraction = rss_bytes / thresholds.memory_bytes; the trend is the
//   least-squares slope of `history` (bytes/s, needs >= 2 samples at distinct times). The forecast
//   is the input's (a predictor's, "forecast_source": "input") or, failing that, a straight-line
//   extrapolation of the slope when it is positive ("trend").
// - Queueing: flagged "saturated" when replicas_up > 0 and in_flight >= replicas_up ×
//   thresholds.queue_per_replica, or when in_flight > 0 with no replica up; "degraded" when
//   replicas_up < replicas.
// - Findings, most severe first (critical > warning > info, then by how far past the trigger):
//     latency     warning: a tool's p95 > latency_ms; critical: its p50 > latency_ms too
//     error_rate  warning: a tool's error rate > error_rate; critical: >= 50% of its calls fail
//     memory      critical: rss >= memory_bytes; warning: >= 80% of it, or forecast <= 15 min
//     queueing    critical: no replica up; warning: saturated or degraded
//     summary     info: the slowest tool and agent, the most frequent error pattern, or no data
//   At most kMaxFindings, after sorting.
//
// JSON shape (to_json; "version" changes only when a field is removed or changes meaning):
// {
//   "version": 1, "source": "live"|"store"|"live+store", "window_seconds": 3600,
//   "has_data": bool,
//   "thresholds": {"latency_ms", "error_rate", "memory_bytes", "queue_per_replica"},
//   "totals": {"calls", "errors", "timeouts", "error_rate"},
//   "findings": [{"severity": "critical"|"warning"|"info",
//                 "kind": "latency"|"error_rate"|"memory"|"queueing"|"summary",
//                 "subject": "demo__slow", "message": "one line"}],
//   "slowest_agent": null | Agent,  "slowest_tool": null | Tool,
//   "agents": [Agent] (by p95, highest first),   "agents_omitted": n,
//   "tools": [Tool] (by p95, highest first),     "tools_omitted": n,
//   "error_rates": [Tool] (tools with errors, by rate, highest first), "error_rates_omitted": n,
//   "error_patterns": [{"upstream", "tool", "name", "status", "error_code", "message_shape",
//                       "count", "first_seen", "last_seen", "example_input_hashes": [..]}],
//   "error_patterns_omitted": n,
//   "memory": [{"upstream", "replica", "rss_bytes", "fraction_of_threshold",
//               "slope_bytes_per_second": null|x, "samples", "forecast_seconds_to_threshold":
//               null|x, "forecast_source": null|"input"|"trend", "above_threshold": bool}]
//             (by fraction, highest first),
//   "queues": [{"upstream", "in_flight", "replicas", "replicas_up", "max_replicas",
//               "in_flight_per_replica": null|x, "saturated": bool, "degraded": bool}],
//   "notes": ["..."]
// }
// Agent: {"upstream", "count", "errors", "timeouts", "error_rate", "p50_ms", "p95_ms", "p99_ms",
//         "mean_ms", "max_ms", "percentiles": "merged"|"upper_bound", "tools",
//         "above_latency_threshold", "above_error_rate_threshold"}
// Tool:  {"upstream", "tool", "name" (upstream__tool, or the upstream for tool ""), "count",
//         "errors", "timeouts", "error_rate", "p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms",
//         "above_latency_threshold", "above_error_rate_threshold"}
// Lists hold at most kMaxListed entries; "*_omitted" counts the rest.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bastion::observe {

struct LatencyStats {
  std::uint64_t count = 0, errors = 0, timeouts = 0;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, mean_ms = 0, max_ms = 0;
};
struct ToolStats {
  std::string upstream;
  std::string tool;  // "" = non-tool methods
  LatencyStats stats;
};
// Whole-upstream figures (all methods), when the filler can compute them better than the
// upper bound analyze() derives from the tools (e.g. from one merged histogram). Optional.
struct AgentStats {
  std::string upstream;
  LatencyStats stats;
};
struct ErrorPattern {
  std::string upstream, tool, status, error_code, message_shape;
  std::uint64_t count = 0;
  std::string first_seen, last_seen;  // RFC 3339
  std::vector<std::string> example_input_hashes;
};
struct MemorySample {
  double t_seconds;  // relative to now (negative = past)
  double rss_bytes;
};
struct ReplicaMemory {
  std::string upstream;
  int replica = 0;
  double rss_bytes = 0;
  std::vector<MemorySample> history;
  std::optional<double> forecast_seconds_to_threshold;
};
struct Queueing {
  std::string upstream;
  std::size_t in_flight = 0, replicas = 0, replicas_up = 0, max_replicas = 0;
};
struct AnalysisThresholds {
  double latency_ms = 5000;
  double error_rate = 0.05;
  double memory_bytes = 1.5 * 1024 * 1024 * 1024;
  double queue_per_replica = 4;  // in-flight calls per live replica before "saturated"
};
struct AnalysisInput {
  std::string source;  // "live" | "store" | "live+store"
  double window_seconds = 3600;
  std::vector<ToolStats> tools;
  std::vector<ErrorPattern> errors;
  std::vector<ReplicaMemory> memory;
  std::vector<Queueing> queues;
  AnalysisThresholds thresholds;
  std::vector<AgentStats> agents;  // optional, see AgentStats
  std::vector<std::string> notes;  // copied into the report (e.g. rows left out at a limit)
};

enum class Severity { info, warning, critical };

struct Finding {
  Severity severity = Severity::info;
  std::string kind;     // latency | error_rate | memory | queueing | summary
  std::string subject;  // tool name, upstream, or upstream/replica
  std::string message;  // one line
  double score = 0;     // how far past the trigger (orders findings of one severity); not in JSON
};

struct AgentLatency {
  std::string upstream;
  LatencyStats stats;
  double error_rate = 0;
  bool merged = false;  // true: percentiles from AgentStats; false: upper bound from the tools
  std::size_t tools = 0;
  bool above_latency = false;
  bool above_error_rate = false;
};

struct ToolLatency {
  std::string upstream, tool;
  LatencyStats stats;
  double error_rate = 0;
  bool above_latency = false;
  bool above_error_rate = false;
};

struct MemoryPressure {
  std::string upstream;
  int replica = 0;
  double rss_bytes = 0;
  double fraction = 0;  // rss / thresholds.memory_bytes
  std::optional<double> slope_bytes_per_second;
  std::size_t samples = 0;
  std::optional<double> forecast_seconds;
  std::string forecast_source;  // "", "input" or "trend"
  bool above_threshold = false;
};

struct QueueState {
  std::string upstream;
  std::size_t in_flight = 0, replicas = 0, replicas_up = 0, max_replicas = 0;
  std::optional<double> in_flight_per_replica;  // none when no replica is up
  bool saturated = false;
  bool degraded = false;
};

struct AnalysisReport {
  std::string source;
  double window_seconds = 0;
  AnalysisThresholds thresholds;
  bool has_data = false;
  std::uint64_t calls = 0, errors = 0, timeouts = 0;
  std::vector<Finding> findings;
  std::optional<AgentLatency> slowest_agent;
  std::optional<ToolLatency> slowest_tool;
  std::vector<AgentLatency> agents;
  std::size_t agents_omitted = 0;
  std::vector<ToolLatency> tools;
  std::size_t tools_omitted = 0;
  std::vector<ToolLatency> error_rates;
  std::size_t error_rates_omitted = 0;
  std::vector<ErrorPattern> error_patterns;
  std::size_t error_patterns_omitted = 0;
  std::vector<MemoryPressure> memory;
  std::vector<QueueState> queues;
  std::vector<std::string> notes;
};

inline constexpr int kReportVersion = 1;
inline constexpr std::size_t kMaxListed = 20;
inline constexpr std::size_t kMaxFindings = 12;

AnalysisReport analyze(const AnalysisInput& input);
boost::json::object to_json(const AnalysisReport& report);
// The inverse of to_json, for a report fetched from a gateway's admin API; nullopt when the
// document is not a version-1 report. Unknown fields are ignored.
std::optional<AnalysisReport> report_from_json(const boost::json::value& doc);
// The human report for a terminal: findings first, then the tables.
std::string to_text(const AnalysisReport& report);

// "upstream__tool", or the upstream alone for non-tool methods (tool ""); "(gateway)" for "".
std::string tool_display_name(const std::string& upstream, const std::string& tool);
std::string_view to_string(Severity s);

}  // namespace bastion::observe
