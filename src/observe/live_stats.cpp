#include "observe/live_stats.hpp"

#include <algorithm>

#include "core/error_shape.hpp"

namespace bastion::observe {

std::string message_shape(std::string_view message) { return core::normalize_error_message(message); }

bool caller_fault(int error_code) {
  switch (error_code) {
    case -32700:  // JSON-RPC: parse error
    case -32600:  // invalid request
    case -32601:  // method not found
    case -32602:  // invalid params (an unknown tool, bad arguments)
    case -32002:  // MCP: resource not found
    case -32004:  // Bastion: unknown or expired session
    case -32020:  // MCP 2026-07-28: Mcp-Method/Mcp-Name differ from the body
    case -32022:  // MCP 2026-07-28: protocol version not supported
    case -32800:  // cancelled by the caller
      return true;
    default:
      return false;
  }
}

bool counts_against_upstream(std::string_view status, int error_code) {
  return status != "ok" && !(status == "error" && caller_fault(error_code));
}

LiveStats::LiveStats(std::chrono::seconds capacity) : capacity_(capacity) {}

LiveStats::Series& LiveStats::series(std::map<std::pair<std::string, std::string>, Series>& map,
                                     const std::string& upstream, const std::string& tool) {
  auto key = std::make_pair(upstream, tool);
  if (auto it = map.find(key); it != map.end()) return it->second;
  if (&map == &tools_ && tools_.size() >= kMaxTools) key.second = "(other)";
  return map.try_emplace(key, capacity_).first->second;
}

void LiveStats::observe(const CallOutcome& call) {
  const bool ok = call.status == "ok";
  if (!ok && call.status != "error" && call.status != "timeout" && call.status != "unavailable") return;
  // The rates say how the upstream is doing: an error the caller caused is a call it served.
  const bool upstream_failed = counts_against_upstream(call.status, call.error_code);
  std::string upstream(call.upstream), tool(call.tool);
  std::lock_guard lock(mutex_);
  auto& up = series(upstreams_, upstream, "");
  up.stats.record(call.at, call.latency_seconds, !upstream_failed);
  if (call.status == "timeout") up.timeouts.record(call.at, 0, true);
  if (!tool.empty()) {
    auto& t = series(tools_, upstream, tool);
    t.stats.record(call.at, call.latency_seconds, !upstream_failed);
    if (call.status == "timeout") t.timeouts.record(call.at, 0, true);
  }
  if (ok) return;  // every error forms a pattern, the caller's too: they show which calls go wrong
  auto key = std::make_tuple(upstream, tool, std::string(call.status),
                             call.error_code ? std::to_string(call.error_code) : std::string(),
                             message_shape(call.error_message));
  auto it = patterns_.find(key);
  if (it == patterns_.end()) {
    if (patterns_.size() >= kMaxPatterns) {
      ++pattern_overflow_;
      return;
    }
    LivePattern p{std::get<0>(key), std::get<1>(key), std::get<2>(key), std::get<3>(key), std::get<4>(key),
                  0, call.wall, call.wall};
    it = patterns_.emplace(std::move(key), std::move(p)).first;
  }
  ++it->second.count;
  it->second.last_seen = std::max(it->second.last_seen, call.wall);
}

WindowSummary LiveStats::upstream_window(const std::string& upstream, Clock::time_point now,
                                         std::chrono::seconds window) const {
  std::lock_guard lock(mutex_);
  auto it = upstreams_.find({upstream, ""});
  return it == upstreams_.end() ? WindowSummary{} : it->second.stats.summary(now, window);
}

std::vector<LiveToolSummary> LiveStats::tools(Clock::time_point now, std::chrono::seconds window) const {
  std::lock_guard lock(mutex_);
  std::vector<LiveToolSummary> out;
  for (const auto& [key, s] : tools_) {
    auto summary = s.stats.summary(now, window);
    if (summary.count == 0) continue;
    out.push_back({key.first, key.second, summary, s.timeouts.summary(now, window).count});
  }
  return out;
}

std::vector<LivePattern> LiveStats::patterns(std::chrono::system_clock::time_point since) const {
  std::lock_guard lock(mutex_);
  std::vector<LivePattern> out;
  for (const auto& [key, p] : patterns_) {
    if (p.last_seen >= since) out.push_back(p);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
  return out;
}

std::uint64_t LiveStats::pattern_overflow() const {
  std::lock_guard lock(mutex_);
  return pattern_overflow_;
}

}  // namespace bastion::observe
