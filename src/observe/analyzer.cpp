#include "observe/analyzer.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <tuple>

namespace bastion::observe {
namespace json = boost::json;

namespace {

constexpr double kCriticalErrorRate = 0.5;  // most calls fail
constexpr double kMemoryWarnFraction = 0.8;
constexpr double kForecastWarnSeconds = 900;  // 15 min
constexpr std::size_t kShapeInMessage = 60;   // bytes of a message shape quoted in a finding

double finite(double v) { return std::isfinite(v) ? v : 0.0; }

double rate(std::uint64_t part, std::uint64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

// Fixed decimals with trailing zeros (and a bare '.') removed: 5 -> "5", 0.125 -> "0.13".
std::string num(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, finite(v));
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string fmt_ms(double ms) {
  ms = finite(ms);
  if (ms < 10) return num(ms, 1) + " ms";
  if (ms < 1000) return num(ms, 0) + " ms";
  if (ms < 100'000) return num(ms / 1000, 1) + " s";
  return num(ms / 1000, 0) + " s";
}

std::string fmt_bytes(double b) {
  b = finite(b);
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  double a = std::fabs(b);
  while (a >= 1024 && u < 4) {
    a /= 1024;
    b /= 1024;
    ++u;
  }
  return num(b, u == 0 ? 0 : 1) + " " + units[u];
}

std::string fmt_pct(double fraction) { return num(fraction * 100, 1) + "%"; }

std::string fmt_seconds(double s) {
  s = finite(s);
  if (s >= 3600 && std::fmod(s, 3600) == 0) return num(s / 3600, 0) + " h";
  if (s >= 3600) return num(s / 3600, 1) + " h";
  if (s >= 60) return num(s / 60, s >= 600 || std::fmod(s, 60) == 0 ? 0 : 1) + " min";
  return num(s, 0) + " s";
}

std::string shorten(const std::string& s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "...";
}

std::string tool_subject(const std::string& upstream, const std::string& tool) {
  if (tool.empty()) return tool_display_name(upstream, tool) + " (non-tool methods)";
  return tool_display_name(upstream, tool);
}

// p95 first, then p99, then more calls: the one to look at first.
template <class T>
bool slower(const T& a, const T& b) {
  if (a.stats.p95_ms != b.stats.p95_ms) return a.stats.p95_ms > b.stats.p95_ms;
  if (a.stats.p99_ms != b.stats.p99_ms) return a.stats.p99_ms > b.stats.p99_ms;
  return a.stats.count > b.stats.count;
}

template <class T>
void cap(std::vector<T>& v, std::size_t& omitted) {
  omitted = v.size() > kMaxListed ? v.size() - kMaxListed : 0;
  if (omitted > 0) v.resize(kMaxListed);
}

LatencyStats sanitized(LatencyStats s) {
  s.p50_ms = finite(s.p50_ms);
  s.p95_ms = finite(s.p95_ms);
  s.p99_ms = finite(s.p99_ms);
  s.mean_ms = finite(s.mean_ms);
  s.max_ms = finite(s.max_ms);
  s.errors = std::min(s.errors, s.count);
  s.timeouts = std::min(s.timeouts, s.count);
  return s;
}

// Least-squares slope of rss over t; nullopt with fewer than two distinct times.
std::optional<double> slope_of(const std::vector<MemorySample>& history, std::size_t& used) {
  double n = 0, st = 0, sr = 0;
  for (const auto& s : history) {
    if (!std::isfinite(s.t_seconds) || !std::isfinite(s.rss_bytes)) continue;
    n += 1;
    st += s.t_seconds;
    sr += s.rss_bytes;
  }
  used = static_cast<std::size_t>(n);
  if (n < 2) return std::nullopt;
  double mt = st / n, mr = sr / n, num_ = 0, den = 0;
  for (const auto& s : history) {
    if (!std::isfinite(s.t_seconds) || !std::isfinite(s.rss_bytes)) continue;
    num_ += (s.t_seconds - mt) * (s.rss_bytes - mr);
    den += (s.t_seconds - mt) * (s.t_seconds - mt);
  }
  if (!(den > 0)) return std::nullopt;
  return num_ / den;
}

std::string latency_triple(const LatencyStats& s) {
  return "p50 " + fmt_ms(s.p50_ms) + ", p95 " + fmt_ms(s.p95_ms) + ", p99 " + fmt_ms(s.p99_ms);
}

std::string calls_text(std::uint64_t n) {
  return std::to_string(n) + (n == 1 ? " call" : " calls");
}

void add_findings(const AnalysisInput& in, AnalysisReport& r, const std::vector<ToolLatency>& tools,
                  const std::vector<AgentLatency>& agents,
                  const std::vector<ErrorPattern>& patterns) {
  const auto& th = r.thresholds;
  std::vector<Finding> out;
  const std::string trigger = fmt_ms(th.latency_ms);

  // Latency, per tool (tool "" included: slow initialize or tools/list is a bottleneck too).
  std::map<std::string, bool> upstream_has_slow_tool;
  for (const auto& t : tools) {
    if (!t.above_latency) continue;
    upstream_has_slow_tool[t.upstream] = true;
    Finding f;
    f.kind = "latency";
    f.subject = tool_display_name(t.upstream, t.tool);
    f.score = t.stats.p95_ms / std::max(th.latency_ms, 1e-9);
    if (t.stats.p50_ms > th.latency_ms) {
      f.severity = Severity::critical;
      f.message = "tool " + tool_subject(t.upstream, t.tool) + " p50 " + fmt_ms(t.stats.p50_ms) +
                  " and p95 " + fmt_ms(t.stats.p95_ms) + " exceed the " + trigger +
                  " latency trigger (" + calls_text(t.stats.count) + ")";
    } else {
      f.severity = Severity::warning;
      f.message = "tool " + tool_subject(t.upstream, t.tool) + " p95 " + fmt_ms(t.stats.p95_ms) +
                  " exceeds the " + trigger + " latency trigger (p50 " + fmt_ms(t.stats.p50_ms) +
                  ", p99 " + fmt_ms(t.stats.p99_ms) + ", " + calls_text(t.stats.count) + ")";
    }
    out.push_back(std::move(f));
  }
  // An agent over the trigger whose tools are not (only when the filler gave agent figures).
  for (const auto& a : agents) {
    if (!a.above_latency || upstream_has_slow_tool.count(a.upstream)) continue;
    Finding f;
    f.kind = "latency";
    f.severity = a.stats.p50_ms > th.latency_ms ? Severity::critical : Severity::warning;
    f.subject = tool_display_name(a.upstream, "");
    f.score = a.stats.p95_ms / std::max(th.latency_ms, 1e-9);
    f.message = "agent " + f.subject + " p95 " + fmt_ms(a.stats.p95_ms) + " exceeds the " +
                trigger + " latency trigger (" + calls_text(a.stats.count) + ")";
    out.push_back(std::move(f));
  }

  // Error rate, per tool, with its most frequent pattern.
  for (const auto& t : tools) {
    if (!t.above_error_rate) continue;
    Finding f;
    f.kind = "error_rate";
    f.subject = tool_display_name(t.upstream, t.tool);
    f.severity = t.error_rate >= kCriticalErrorRate ? Severity::critical : Severity::warning;
    f.score = t.error_rate / std::max(th.error_rate, 1e-9);
    f.message = "tool " + tool_subject(t.upstream, t.tool) + " fails " + fmt_pct(t.error_rate) +
                " of calls (" + std::to_string(t.stats.errors) + " of " +
                std::to_string(t.stats.count);
    if (t.stats.timeouts > 0) f.message += ", " + std::to_string(t.stats.timeouts) + " timeouts";
    f.message += "), above the " + fmt_pct(th.error_rate) + " error-rate trigger";
    const ErrorPattern* top = nullptr;
    for (const auto& p : in.errors) {
      if (p.upstream == t.upstream && p.tool == t.tool && (!top || p.count > top->count)) top = &p;
    }
    if (top) {
      f.message += "; most often " + top->status;
      if (!top->error_code.empty()) f.message += " " + top->error_code;
      if (!top->message_shape.empty()) {
        f.message += " \"" + shorten(top->message_shape, kShapeInMessage) + "\"";
      }
    }
    out.push_back(std::move(f));
  }

  // Memory.
  for (const auto& m : r.memory) {
    Finding f;
    f.kind = "memory";
    f.subject = m.upstream + "/" + std::to_string(m.replica);
    f.score = m.fraction;
    std::string trend;
    if (m.slope_bytes_per_second && *m.slope_bytes_per_second != 0) {
      trend = std::string(*m.slope_bytes_per_second > 0 ? ", rising " : ", falling ") +
              fmt_bytes(std::fabs(*m.slope_bytes_per_second)) + "/s";
    }
    if (m.above_threshold) {
      f.severity = Severity::critical;
      f.message = "replica " + f.subject + " RSS " + fmt_bytes(m.rss_bytes) + " is at " +
                  fmt_pct(m.fraction) + " of the " + fmt_bytes(th.memory_bytes) +
                  " memory trigger" + trend;
    } else if (m.forecast_seconds && *m.forecast_seconds <= kForecastWarnSeconds) {
      f.severity = Severity::warning;
      f.message = "replica " + f.subject + " RSS reaches the " + fmt_bytes(th.memory_bytes) +
                  " memory trigger in about " + fmt_seconds(*m.forecast_seconds) + " (now " +
                  fmt_bytes(m.rss_bytes) + ", " + fmt_pct(m.fraction) + trend + ")";
      f.score = std::max(f.score, kMemoryWarnFraction);
    } else if (m.fraction >= kMemoryWarnFraction) {
      f.severity = Severity::warning;
      f.message = "replica " + f.subject + " RSS " + fmt_bytes(m.rss_bytes) + " is at " +
                  fmt_pct(m.fraction) + " of the " + fmt_bytes(th.memory_bytes) +
                  " memory trigger" + trend;
    } else {
      continue;
    }
    out.push_back(std::move(f));
  }

  // Queueing.
  for (const auto& q : r.queues) {
    Finding f;
    f.kind = "queueing";
    f.subject = q.upstream;
    if (q.replicas_up == 0 && (q.replicas > 0 || q.in_flight > 0)) {
      f.severity = Severity::critical;
      f.score = 1e9;  // nothing can be served
      f.message =
          "upstream " + q.upstream + " has no replica up (0 of " + std::to_string(q.replicas) + ")";
      if (q.in_flight > 0) f.message += " with " + std::to_string(q.in_flight) + " calls waiting";
    } else if (q.saturated || q.degraded) {
      f.severity = Severity::warning;
      std::vector<std::string> parts;
      if (q.saturated) {
        parts.push_back(std::to_string(q.in_flight) + " calls in flight on " +
                        std::to_string(q.replicas_up) + " live replicas (" +
                        num(q.in_flight_per_replica.value_or(0), 1) + " per replica, trigger " +
                        num(th.queue_per_replica, 1) + ")");
        if (q.max_replicas > 0 && q.replicas >= q.max_replicas) {
          parts.back() += ", already at max_replicas " + std::to_string(q.max_replicas);
        }
        f.score = q.in_flight_per_replica.value_or(0) / std::max(th.queue_per_replica, 1e-9);
      }
      if (q.degraded) {
        parts.push_back(std::to_string(q.replicas_up) + " of " + std::to_string(q.replicas) +
                        " replicas up");
        f.score = std::max(f.score, 1.0);
      }
      f.message = "upstream " + q.upstream + " has " + parts[0];
      if (parts.size() > 1) f.message += "; " + parts[1];
    } else {
      continue;
    }
    out.push_back(std::move(f));
  }

  // Summary lines, so the report always opens with something to read.
  if (r.calls == 0) {
    Finding f;
    f.kind = "summary";
    f.message = "no calls recorded in the last " + fmt_seconds(r.window_seconds);
    if (!r.has_data) f.message = "no data in the last " + fmt_seconds(r.window_seconds);
    out.push_back(std::move(f));
  } else if (upstream_has_slow_tool.empty() && r.slowest_tool) {
    Finding f;
    f.kind = "summary";
    f.subject = tool_display_name(r.slowest_tool->upstream, r.slowest_tool->tool);
    f.message = "no tool above the " + trigger + " latency trigger; slowest is " + f.subject +
                " (" + latency_triple(r.slowest_tool->stats) + ")";
    if (r.slowest_agent) {
      f.message += ", slowest agent " + tool_display_name(r.slowest_agent->upstream, "") +
                   " (p95 " + fmt_ms(r.slowest_agent->stats.p95_ms) + ")";
    }
    out.push_back(std::move(f));
  }
  if (!patterns.empty()) {
    const auto& p = patterns.front();
    Finding f;
    f.kind = "summary";
    f.subject = tool_display_name(p.upstream, p.tool);
    f.message = "most frequent error: " + f.subject + " " + p.status;
    if (!p.error_code.empty()) f.message += " " + p.error_code;
    if (!p.message_shape.empty())
      f.message += " \"" + shorten(p.message_shape, kShapeInMessage) + "\"";
    f.message += " x" + std::to_string(p.count);
    if (!p.last_seen.empty()) f.message += " (last " + p.last_seen + ")";
    out.push_back(std::move(f));
  }

  std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
    if (a.severity != b.severity) return a.severity > b.severity;
    return a.score > b.score;
  });
  if (out.size() > kMaxFindings) out.resize(kMaxFindings);
  r.findings = std::move(out);
}

}  // namespace

std::string tool_display_name(const std::string& upstream, const std::string& tool) {
  std::string u = upstream.empty() ? "(gateway)" : upstream;
  return tool.empty() ? u : u + "__" + tool;
}

std::string_view to_string(Severity s) {
  switch (s) {
    case Severity::critical:
      return "critical";
    case Severity::warning:
      return "warning";
    case Severity::info:
      break;
  }
  return "info";
}

AnalysisReport analyze(const AnalysisInput& in) {
  AnalysisReport r;
  r.source = in.source;
  r.window_seconds = finite(in.window_seconds);
  r.thresholds = in.thresholds;
  r.notes = in.notes;
  const auto& th = r.thresholds;

  // Tools.
  std::vector<ToolLatency> tools;
  for (const auto& t : in.tools) {
    if (t.stats.count == 0) continue;
    ToolLatency tl;
    tl.upstream = t.upstream;
    tl.tool = t.tool;
    tl.stats = sanitized(t.stats);
    tl.error_rate = rate(tl.stats.errors, tl.stats.count);
    tl.above_latency = tl.stats.p95_ms > th.latency_ms;
    tl.above_error_rate = tl.error_rate > th.error_rate;
    tools.push_back(std::move(tl));
  }

  // Agents: given figures win; otherwise combined from the tools (percentiles: upper bound).
  std::map<std::string, AgentLatency> by_upstream;
  for (const auto& t : tools) {
    auto& a = by_upstream[t.upstream];
    a.upstream = t.upstream;
    ++a.tools;
    auto& s = a.stats;
    double total = static_cast<double>(s.count + t.stats.count);
    s.mean_ms = (s.mean_ms * static_cast<double>(s.count) +
                 t.stats.mean_ms * static_cast<double>(t.stats.count)) /
                total;
    s.count += t.stats.count;
    s.errors += t.stats.errors;
    s.timeouts += t.stats.timeouts;
    s.p50_ms = std::max(s.p50_ms, t.stats.p50_ms);
    s.p95_ms = std::max(s.p95_ms, t.stats.p95_ms);
    s.p99_ms = std::max(s.p99_ms, t.stats.p99_ms);
    s.max_ms = std::max(s.max_ms, t.stats.max_ms);
  }
  for (const auto& g : in.agents) {
    if (g.stats.count == 0) continue;
    auto& a = by_upstream[g.upstream];
    a.upstream = g.upstream;
    a.stats = sanitized(g.stats);
    a.merged = true;
  }
  std::vector<AgentLatency> agents;
  for (auto& [name, a] : by_upstream) {
    a.error_rate = rate(a.stats.errors, a.stats.count);
    a.above_latency = a.stats.p95_ms > th.latency_ms;
    a.above_error_rate = a.error_rate > th.error_rate;
    r.calls += a.stats.count;
    r.errors += a.stats.errors;
    r.timeouts += a.stats.timeouts;
    agents.push_back(a);
  }

  std::stable_sort(agents.begin(), agents.end(), slower<AgentLatency>);
  std::stable_sort(tools.begin(), tools.end(), [](const ToolLatency& a, const ToolLatency& b) {
    if (slower(a, b)) return true;
    if (slower(b, a)) return false;
    return std::tie(a.upstream, a.tool) < std::tie(b.upstream, b.tool);
  });
  if (!agents.empty()) r.slowest_agent = agents.front();
  for (const auto& t : tools) {
    if (!t.tool.empty()) {
      r.slowest_tool = t;
      break;
    }
  }

  // Error rates: tools with errors, highest rate first.
  for (const auto& t : tools) {
    if (t.stats.errors > 0) r.error_rates.push_back(t);
  }
  std::stable_sort(r.error_rates.begin(), r.error_rates.end(),
                   [](const ToolLatency& a, const ToolLatency& b) {
                     if (a.error_rate != b.error_rate) return a.error_rate > b.error_rate;
                     if (a.stats.errors != b.stats.errors) return a.stats.errors > b.stats.errors;
                     return std::tie(a.upstream, a.tool) < std::tie(b.upstream, b.tool);
                   });

  // Error patterns by count.
  std::vector<ErrorPattern> patterns;
  for (const auto& p : in.errors) {
    if (p.count > 0) patterns.push_back(p);
  }
  std::stable_sort(patterns.begin(), patterns.end(),
                   [](const ErrorPattern& a, const ErrorPattern& b) {
                     if (a.count != b.count) return a.count > b.count;
                     if (a.last_seen != b.last_seen) return a.last_seen > b.last_seen;
                     return std::tie(a.upstream, a.tool, a.status, a.error_code, a.message_shape) <
                            std::tie(b.upstream, b.tool, b.status, b.error_code, b.message_shape);
                   });

  // Memory.
  for (const auto& m : in.memory) {
    MemoryPressure p;
    p.upstream = m.upstream;
    p.replica = m.replica;
    p.rss_bytes = finite(m.rss_bytes);
    p.fraction = th.memory_bytes > 0 ? p.rss_bytes / th.memory_bytes : 0;
    p.above_threshold = th.memory_bytes > 0 && p.rss_bytes >= th.memory_bytes;
    p.slope_bytes_per_second = slope_of(m.history, p.samples);
    if (m.forecast_seconds_to_threshold && std::isfinite(*m.forecast_seconds_to_threshold)) {
      p.forecast_seconds = std::max(0.0, *m.forecast_seconds_to_threshold);
      p.forecast_source = "input";
    } else if (p.slope_bytes_per_second && *p.slope_bytes_per_second > 0 && !p.above_threshold &&
               th.memory_bytes > 0) {
      p.forecast_seconds = (th.memory_bytes - p.rss_bytes) / *p.slope_bytes_per_second;
      p.forecast_source = "trend";
    }
    r.memory.push_back(std::move(p));
  }
  std::stable_sort(r.memory.begin(), r.memory.end(),
                   [](const MemoryPressure& a, const MemoryPressure& b) {
                     if (a.fraction != b.fraction) return a.fraction > b.fraction;
                     return std::tie(a.upstream, a.replica) < std::tie(b.upstream, b.replica);
                   });

  // Queueing.
  for (const auto& q : in.queues) {
    QueueState s;
    s.upstream = q.upstream;
    s.in_flight = q.in_flight;
    s.replicas = q.replicas;
    s.replicas_up = q.replicas_up;
    s.max_replicas = q.max_replicas;
    if (q.replicas_up > 0) {
      s.in_flight_per_replica =
          static_cast<double>(q.in_flight) / static_cast<double>(q.replicas_up);
      s.saturated = static_cast<double>(q.in_flight) >=
                        static_cast<double>(q.replicas_up) * th.queue_per_replica &&
                    q.in_flight > 0;
    } else {
      s.saturated = q.in_flight > 0;
    }
    s.degraded = q.replicas_up < q.replicas;
    r.queues.push_back(std::move(s));
  }

  r.has_data = r.calls > 0 || !patterns.empty() || !r.memory.empty() || !r.queues.empty();
  add_findings(in, r, tools, agents, patterns);

  r.agents = std::move(agents);
  cap(r.agents, r.agents_omitted);
  r.tools = std::move(tools);
  cap(r.tools, r.tools_omitted);
  cap(r.error_rates, r.error_rates_omitted);
  r.error_patterns = std::move(patterns);
  cap(r.error_patterns, r.error_patterns_omitted);
  return r;
}

// ---- JSON ----

namespace {

json::value opt_num(const std::optional<double>& v) {
  return v ? json::value(finite(*v)) : json::value(nullptr);
}

void put_stats(json::object& o, const LatencyStats& s, double error_rate) {
  o["count"] = s.count;
  o["errors"] = s.errors;
  o["timeouts"] = s.timeouts;
  o["error_rate"] = finite(error_rate);
  o["p50_ms"] = finite(s.p50_ms);
  o["p95_ms"] = finite(s.p95_ms);
  o["p99_ms"] = finite(s.p99_ms);
  o["mean_ms"] = finite(s.mean_ms);
  o["max_ms"] = finite(s.max_ms);
}

json::object agent_json(const AgentLatency& a) {
  json::object o;
  o["upstream"] = a.upstream;
  put_stats(o, a.stats, a.error_rate);
  o["percentiles"] = a.merged ? "merged" : "upper_bound";
  o["tools"] = a.tools;
  o["above_latency_threshold"] = a.above_latency;
  o["above_error_rate_threshold"] = a.above_error_rate;
  return o;
}

json::object tool_json(const ToolLatency& t) {
  json::object o;
  o["upstream"] = t.upstream;
  o["tool"] = t.tool;
  o["name"] = tool_display_name(t.upstream, t.tool);
  put_stats(o, t.stats, t.error_rate);
  o["above_latency_threshold"] = t.above_latency;
  o["above_error_rate_threshold"] = t.above_error_rate;
  return o;
}

template <class T, class F>
json::array array_of(const std::vector<T>& v, F f) {
  json::array a;
  for (const auto& x : v) a.push_back(f(x));
  return a;
}

// Readers for report_from_json: tolerant of integer/double representation.
std::optional<double> get_num(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_double()) return v->get_double();
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  return std::nullopt;
}
double num_or(const json::object& o, std::string_view key, double def = 0) {
  return get_num(o, key).value_or(def);
}
std::uint64_t u64(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64()) return v->get_int64() > 0 ? static_cast<std::uint64_t>(v->get_int64()) : 0;
  if (v->is_double()) return v->get_double() > 0 ? static_cast<std::uint64_t>(v->get_double()) : 0;
  return 0;
}
std::string str(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}
bool flag(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_bool() && v->get_bool();
}
template <class F>
void each_object(const json::object& o, std::string_view key, F f) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_array()) return;
  for (const auto& e : v->get_array()) {
    if (e.is_object()) f(e.get_object());
  }
}

LatencyStats stats_from(const json::object& o) {
  LatencyStats s;
  s.count = u64(o, "count");
  s.errors = u64(o, "errors");
  s.timeouts = u64(o, "timeouts");
  s.p50_ms = num_or(o, "p50_ms");
  s.p95_ms = num_or(o, "p95_ms");
  s.p99_ms = num_or(o, "p99_ms");
  s.mean_ms = num_or(o, "mean_ms");
  s.max_ms = num_or(o, "max_ms");
  return s;
}
AgentLatency agent_from(const json::object& o) {
  AgentLatency a;
  a.upstream = str(o, "upstream");
  a.stats = stats_from(o);
  a.error_rate = num_or(o, "error_rate");
  a.merged = str(o, "percentiles") == "merged";
  a.tools = static_cast<std::size_t>(u64(o, "tools"));
  a.above_latency = flag(o, "above_latency_threshold");
  a.above_error_rate = flag(o, "above_error_rate_threshold");
  return a;
}
ToolLatency tool_from(const json::object& o) {
  ToolLatency t;
  t.upstream = str(o, "upstream");
  t.tool = str(o, "tool");
  t.stats = stats_from(o);
  t.error_rate = num_or(o, "error_rate");
  t.above_latency = flag(o, "above_latency_threshold");
  t.above_error_rate = flag(o, "above_error_rate_threshold");
  return t;
}
Severity severity_from(const std::string& s) {
  if (s == "critical") return Severity::critical;
  if (s == "warning") return Severity::warning;
  return Severity::info;
}

}  // namespace

json::object to_json(const AnalysisReport& r) {
  json::object o;
  o["version"] = kReportVersion;
  o["source"] = r.source;
  o["window_seconds"] = finite(r.window_seconds);
  o["has_data"] = r.has_data;
  o["thresholds"] = json::object{{"latency_ms", finite(r.thresholds.latency_ms)},
                                 {"error_rate", finite(r.thresholds.error_rate)},
                                 {"memory_bytes", finite(r.thresholds.memory_bytes)},
                                 {"queue_per_replica", finite(r.thresholds.queue_per_replica)}};
  o["totals"] = json::object{{"calls", r.calls},
                             {"errors", r.errors},
                             {"timeouts", r.timeouts},
                             {"error_rate", rate(r.errors, r.calls)}};
  o["findings"] = array_of(r.findings, [](const Finding& f) {
    return json::object{{"severity", to_string(f.severity)},
                        {"kind", f.kind},
                        {"subject", f.subject},
                        {"message", f.message}};
  });
  o["slowest_agent"] =
      r.slowest_agent ? json::value(agent_json(*r.slowest_agent)) : json::value(nullptr);
  o["slowest_tool"] =
      r.slowest_tool ? json::value(tool_json(*r.slowest_tool)) : json::value(nullptr);
  o["agents"] = array_of(r.agents, agent_json);
  o["agents_omitted"] = r.agents_omitted;
  o["tools"] = array_of(r.tools, tool_json);
  o["tools_omitted"] = r.tools_omitted;
  o["error_rates"] = array_of(r.error_rates, tool_json);
  o["error_rates_omitted"] = r.error_rates_omitted;
  o["error_patterns"] = array_of(r.error_patterns, [](const ErrorPattern& p) {
    json::array examples;
    for (const auto& h : p.example_input_hashes) examples.emplace_back(h);
    return json::object{{"upstream", p.upstream},
                        {"tool", p.tool},
                        {"name", tool_display_name(p.upstream, p.tool)},
                        {"status", p.status},
                        {"error_code", p.error_code},
                        {"message_shape", p.message_shape},
                        {"count", p.count},
                        {"first_seen", p.first_seen},
                        {"last_seen", p.last_seen},
                        {"example_input_hashes", std::move(examples)}};
  });
  o["error_patterns_omitted"] = r.error_patterns_omitted;
  o["memory"] = array_of(r.memory, [](const MemoryPressure& m) {
    return json::object{
        {"upstream", m.upstream},
        {"replica", m.replica},
        {"rss_bytes", finite(m.rss_bytes)},
        {"fraction_of_threshold", finite(m.fraction)},
        {"slope_bytes_per_second", opt_num(m.slope_bytes_per_second)},
        {"samples", m.samples},
        {"forecast_seconds_to_threshold", opt_num(m.forecast_seconds)},
        {"forecast_source",
         m.forecast_source.empty() ? json::value(nullptr) : json::value(m.forecast_source)},
        {"above_threshold", m.above_threshold}};
  });
  o["queues"] = array_of(r.queues, [](const QueueState& q) {
    return json::object{{"upstream", q.upstream},
                        {"in_flight", q.in_flight},
                        {"replicas", q.replicas},
                        {"replicas_up", q.replicas_up},
                        {"max_replicas", q.max_replicas},
                        {"in_flight_per_replica", opt_num(q.in_flight_per_replica)},
                        {"saturated", q.saturated},
                        {"degraded", q.degraded}};
  });
  o["notes"] = array_of(r.notes, [](const std::string& n) { return json::value(n); });
  return o;
}

std::optional<AnalysisReport> report_from_json(const json::value& doc) {
  const auto* o = doc.if_object();
  if (!o || u64(*o, "version") != static_cast<std::uint64_t>(kReportVersion)) return std::nullopt;
  if (!o->contains("findings") || !o->contains("totals")) return std::nullopt;
  AnalysisReport r;
  r.source = str(*o, "source");
  r.window_seconds = num_or(*o, "window_seconds");
  r.has_data = flag(*o, "has_data");
  if (auto* t = o->if_contains("thresholds"); t && t->is_object()) {
    const auto& to = t->get_object();
    AnalysisThresholds d;
    r.thresholds.latency_ms = num_or(to, "latency_ms", d.latency_ms);
    r.thresholds.error_rate = num_or(to, "error_rate", d.error_rate);
    r.thresholds.memory_bytes = num_or(to, "memory_bytes", d.memory_bytes);
    r.thresholds.queue_per_replica = num_or(to, "queue_per_replica", d.queue_per_replica);
  }
  if (auto* t = o->if_contains("totals"); t && t->is_object()) {
    r.calls = u64(t->get_object(), "calls");
    r.errors = u64(t->get_object(), "errors");
    r.timeouts = u64(t->get_object(), "timeouts");
  }
  each_object(*o, "findings", [&](const json::object& f) {
    r.findings.push_back(Finding{severity_from(str(f, "severity")), str(f, "kind"),
                                 str(f, "subject"), str(f, "message"), 0});
  });
  if (auto* a = o->if_contains("slowest_agent"); a && a->is_object()) {
    r.slowest_agent = agent_from(a->get_object());
  }
  if (auto* t = o->if_contains("slowest_tool"); t && t->is_object()) {
    r.slowest_tool = tool_from(t->get_object());
  }
  each_object(*o, "agents", [&](const json::object& a) { r.agents.push_back(agent_from(a)); });
  r.agents_omitted = static_cast<std::size_t>(u64(*o, "agents_omitted"));
  each_object(*o, "tools", [&](const json::object& t) { r.tools.push_back(tool_from(t)); });
  r.tools_omitted = static_cast<std::size_t>(u64(*o, "tools_omitted"));
  each_object(*o, "error_rates",
              [&](const json::object& t) { r.error_rates.push_back(tool_from(t)); });
  r.error_rates_omitted = static_cast<std::size_t>(u64(*o, "error_rates_omitted"));
  each_object(*o, "error_patterns", [&](const json::object& p) {
    ErrorPattern e;
    e.upstream = str(p, "upstream");
    e.tool = str(p, "tool");
    e.status = str(p, "status");
    e.error_code = str(p, "error_code");
    e.message_shape = str(p, "message_shape");
    e.count = u64(p, "count");
    e.first_seen = str(p, "first_seen");
    e.last_seen = str(p, "last_seen");
    if (auto* x = p.if_contains("example_input_hashes"); x && x->is_array()) {
      for (const auto& h : x->get_array()) {
        if (h.is_string()) e.example_input_hashes.emplace_back(h.get_string());
      }
    }
    r.error_patterns.push_back(std::move(e));
  });
  r.error_patterns_omitted = static_cast<std::size_t>(u64(*o, "error_patterns_omitted"));
  each_object(*o, "memory", [&](const json::object& m) {
    MemoryPressure p;
    p.upstream = str(m, "upstream");
    p.replica = static_cast<int>(num_or(m, "replica"));
    p.rss_bytes = num_or(m, "rss_bytes");
    p.fraction = num_or(m, "fraction_of_threshold");
    p.slope_bytes_per_second = get_num(m, "slope_bytes_per_second");
    p.samples = static_cast<std::size_t>(u64(m, "samples"));
    p.forecast_seconds = get_num(m, "forecast_seconds_to_threshold");
    p.forecast_source = str(m, "forecast_source");
    p.above_threshold = flag(m, "above_threshold");
    r.memory.push_back(std::move(p));
  });
  each_object(*o, "queues", [&](const json::object& q) {
    QueueState s;
    s.upstream = str(q, "upstream");
    s.in_flight = static_cast<std::size_t>(u64(q, "in_flight"));
    s.replicas = static_cast<std::size_t>(u64(q, "replicas"));
    s.replicas_up = static_cast<std::size_t>(u64(q, "replicas_up"));
    s.max_replicas = static_cast<std::size_t>(u64(q, "max_replicas"));
    s.in_flight_per_replica = get_num(q, "in_flight_per_replica");
    s.saturated = flag(q, "saturated");
    s.degraded = flag(q, "degraded");
    r.queues.push_back(std::move(s));
  });
  if (auto* n = o->if_contains("notes"); n && n->is_array()) {
    for (const auto& x : n->get_array()) {
      if (x.is_string()) r.notes.emplace_back(x.get_string());
    }
  }
  return r;
}

// ---- text ----

namespace {

std::string pad(std::string s, std::size_t width, bool right = false) {
  if (s.size() >= width) return s;
  std::string fill(width - s.size(), ' ');
  return right ? fill + s : s + fill;
}

std::string source_text(const std::string& source) {
  if (source == "live") return "the running gateway";
  if (source == "store") return "the interaction store";
  if (source == "live+store") return "the running gateway and the interaction store";
  return source.empty() ? "unknown" : source;
}

void tool_row(std::ostringstream& out, const std::string& name, const LatencyStats& s,
              double error_rate, bool flagged) {
  out << "  " << pad(name, 28) << ' ' << pad(std::to_string(s.count), 7, true) << ' '
      << pad(fmt_pct(error_rate), 6, true) << ' ' << pad(fmt_ms(s.p50_ms), 9, true) << ' '
      << pad(fmt_ms(s.p95_ms), 9, true) << ' ' << pad(fmt_ms(s.p99_ms), 9, true) << ' '
      << pad(fmt_ms(s.max_ms), 9, true) << (flagged ? "  !" : "") << '\n';
}

void tool_header(std::ostringstream& out) {
  out << "  " << pad("name", 28) << ' ' << pad("calls", 7, true) << ' ' << pad("err", 6, true)
      << ' ' << pad("p50", 9, true) << ' ' << pad("p95", 9, true) << ' ' << pad("p99", 9, true)
      << ' ' << pad("max", 9, true) << '\n';
}

}  // namespace

std::string to_text(const AnalysisReport& r) {
  std::ostringstream out;
  const auto& th = r.thresholds;
  out << "Bottleneck analysis: last " << fmt_seconds(r.window_seconds) << ", from "
      << source_text(r.source) << '\n';
  out << "  " << r.calls << " calls, " << r.errors << " errors ("
      << fmt_pct(rate(r.errors, r.calls)) << "), " << r.timeouts << " timeouts; triggers: latency "
      << fmt_ms(th.latency_ms) << ", error rate " << fmt_pct(th.error_rate) << ", memory "
      << fmt_bytes(th.memory_bytes) << '\n';

  out << "\nFindings\n";
  for (const auto& f : r.findings) {
    std::string sev(to_string(f.severity));
    for (auto& c : sev) {
      if (f.severity != Severity::info) c = static_cast<char>(c - 'a' + 'A');
    }
    out << "  " << pad(sev, 9) << ' ' << f.message << '\n';
  }
  if (r.findings.empty()) out << "  (none)\n";

  if (r.slowest_agent) {
    const auto& a = *r.slowest_agent;
    out << "\nSlowest agent: " << tool_display_name(a.upstream, "") << "  "
        << latency_triple(a.stats) << " over " << calls_text(a.stats.count);
    out << (a.merged ? "" : " (upper bound over " + std::to_string(a.tools) + " tools)");
    if (a.above_latency) out << "  ABOVE " << fmt_ms(th.latency_ms);
    out << '\n';
  }
  if (r.slowest_tool) {
    const auto& t = *r.slowest_tool;
    out << "Slowest tool:  " << tool_display_name(t.upstream, t.tool) << "  "
        << latency_triple(t.stats) << " over " << calls_text(t.stats.count);
    if (t.above_latency) out << "  ABOVE " << fmt_ms(th.latency_ms);
    out << '\n';
  }

  if (!r.agents.empty()) {
    out << "\nAgents (by p95; ! = above a trigger)\n";
    tool_header(out);
    for (const auto& a : r.agents) {
      tool_row(out, tool_display_name(a.upstream, "") + (a.merged ? "" : " (<=)"), a.stats,
               a.error_rate, a.above_latency || a.above_error_rate);
    }
    if (r.agents_omitted) out << "  ... and " << r.agents_omitted << " more\n";
  }
  if (!r.tools.empty()) {
    out << "\nTools (by p95; ! = above a trigger)\n";
    tool_header(out);
    for (const auto& t : r.tools) {
      tool_row(out, tool_display_name(t.upstream, t.tool) + (t.tool.empty() ? " (other)" : ""),
               t.stats, t.error_rate, t.above_latency || t.above_error_rate);
    }
    if (r.tools_omitted) out << "  ... and " << r.tools_omitted << " more\n";
  }
  if (!r.error_rates.empty()) {
    out << "\nError rates (trigger " << fmt_pct(th.error_rate) << ")\n";
    for (const auto& t : r.error_rates) {
      out << "  " << pad(tool_display_name(t.upstream, t.tool), 28) << ' '
          << pad(fmt_pct(t.error_rate), 6, true) << "  " << t.stats.errors << " of "
          << t.stats.count << " calls";
      if (t.stats.timeouts) out << ", " << t.stats.timeouts << " timeouts";
      out << (t.above_error_rate ? "  !" : "") << '\n';
    }
    if (r.error_rates_omitted) out << "  ... and " << r.error_rates_omitted << " more\n";
  }
  if (!r.error_patterns.empty()) {
    out << "\nError patterns (by count)\n";
    for (const auto& p : r.error_patterns) {
      out << "  " << pad(std::to_string(p.count), 7, true) << "  "
          << tool_display_name(p.upstream, p.tool) << "  " << p.status;
      if (!p.error_code.empty()) out << ' ' << p.error_code;
      if (!p.message_shape.empty()) out << "  \"" << shorten(p.message_shape, 80) << '"';
      out << '\n';
      if (!p.first_seen.empty()) {
        out << "           first " << p.first_seen << ", last " << p.last_seen;
        if (!p.example_input_hashes.empty()) {
          out << "; e.g. input " << p.example_input_hashes.front().substr(0, 16);
        }
        out << '\n';
      }
    }
    if (r.error_patterns_omitted) out << "  ... and " << r.error_patterns_omitted << " more\n";
  }
  if (!r.memory.empty()) {
    out << "\nMemory (trigger " << fmt_bytes(th.memory_bytes) << ")\n";
    for (const auto& m : r.memory) {
      out << "  " << pad(m.upstream + "/" + std::to_string(m.replica), 20) << ' '
          << pad(fmt_bytes(m.rss_bytes), 10, true) << ' ' << pad(fmt_pct(m.fraction), 7, true);
      if (m.slope_bytes_per_second) {
        out << "  " << (*m.slope_bytes_per_second >= 0 ? "+" : "-")
            << fmt_bytes(std::fabs(*m.slope_bytes_per_second)) << "/s";
      }
      if (m.forecast_seconds) {
        out << "  trigger in ~" << fmt_seconds(*m.forecast_seconds)
            << (m.forecast_source == "trend" ? " (linear trend)" : "");
      }
      out << (m.above_threshold ? "  !" : "") << '\n';
    }
  }
  if (!r.queues.empty()) {
    out << "\nQueueing\n";
    for (const auto& q : r.queues) {
      out << "  " << pad(q.upstream, 20) << ' ' << q.in_flight << " in flight, " << q.replicas_up
          << " of " << q.replicas << " replicas up";
      if (q.max_replicas) out << " (max " << q.max_replicas << ")";
      if (q.saturated) out << "  saturated";
      if (q.degraded) out << "  degraded";
      out << '\n';
    }
  }
  if (!r.notes.empty()) {
    out << "\nNotes\n";
    for (const auto& n : r.notes) out << "  - " << n << '\n';
  }
  return out.str();
}

}  // namespace bastion::observe
