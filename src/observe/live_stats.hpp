#pragma once
// What the calls of the last minutes look like, per upstream and per tool, for the triggers and
// the bottleneck analyzer: latency percentiles and error rates over sliding windows, and recent
// error patterns. Fed with every interaction; thread-safe (one mutex, held for microseconds).
// Bounded: at most kMaxTools (upstream, tool) series and kMaxPatterns error patterns; further
// tools share one "(other)" series per upstream, further patterns are counted as overflow.
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "observe/windowed_stats.hpp"

namespace bastion::observe {

struct CallOutcome {
  std::string_view upstream;
  std::string_view tool;    // empty for methods other than tools/call
  std::string_view status;  // ok|error|timeout|unavailable (denied and rate_limited are not the upstream's)
  int error_code = 0;
  std::string_view error_message;
  double latency_seconds = 0;
  std::chrono::system_clock::time_point wall;
  std::chrono::steady_clock::time_point at;
};

// A JSON-RPC error that says the caller asked wrongly (unknown method or tool, bad params,
// malformed request, missing resource, stale session, cancelled by the caller), not that the
// upstream is unwell. Such calls count as served in the error rates, so a client cannot make the
// error_rate trigger restart an agent, or mark a tool failing, by sending bad requests.
// (The codes are those of mcp::code in mcp/jsonrpc.hpp, which this layer does not include.)
bool caller_fault(int error_code);

// Whether a call counts as the upstream's error in the error rates, live and in the store
// analysis alike: any status but ok, except an error the caller caused.
bool counts_against_upstream(std::string_view status, int error_code);

struct LivePattern {
  std::string upstream, tool, status, error_code, message_shape;
  std::uint64_t count = 0;
  std::chrono::system_clock::time_point first_seen, last_seen;
};

struct LiveToolSummary {
  std::string upstream, tool;
  WindowSummary window;
  std::uint64_t timeouts = 0;  // in the window
};

// The shape live error patterns are grouped by: the one normaliser the store analysis and the
// dataset export use too (core/error_shape.hpp), so "timeout after 5012 ms" and "... 4999 ms"
// group together, and a pattern keeps its shape whether `analyze` answers live or from the store.
std::string message_shape(std::string_view message);

class LiveStats {
 public:
  static constexpr std::size_t kMaxTools = 64;
  static constexpr std::size_t kMaxPatterns = 256;
  using Clock = std::chrono::steady_clock;

  explicit LiveStats(std::chrono::seconds capacity = std::chrono::seconds(3600));

  // Counts one call. Statuses other than ok/error/timeout/unavailable are ignored.
  void observe(const CallOutcome& call);

  WindowSummary upstream_window(const std::string& upstream, Clock::time_point now, std::chrono::seconds window) const;
  std::vector<LiveToolSummary> tools(Clock::time_point now, std::chrono::seconds window) const;
  // Patterns last seen after `since`, most frequent first.
  std::vector<LivePattern> patterns(std::chrono::system_clock::time_point since) const;
  std::uint64_t pattern_overflow() const;

 private:
  struct Series {
    explicit Series(std::chrono::seconds capacity) : stats(capacity), timeouts(capacity) {}
    WindowedStats stats;
    WindowedStats timeouts;  // one sample per timeout, for the count
  };
  Series& series(std::map<std::pair<std::string, std::string>, Series>& map, const std::string& upstream,
                 const std::string& tool);

  std::chrono::seconds capacity_;
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, Series> upstreams_;  // key (upstream, "")
  std::map<std::pair<std::string, std::string>, Series> tools_;
  std::map<std::tuple<std::string, std::string, std::string, std::string, std::string>, LivePattern> patterns_;
  std::uint64_t pattern_overflow_ = 0;
};

}  // namespace bastion::observe
