#include "record/analysis/store_analysis.hpp"

#include <algorithm>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "record/export/dataset_export.hpp"  // LatencyHistogram, normalize_error_message
#include "record/group_key.hpp"
#include "record/time_format.hpp"
#include "observe/live_stats.hpp"  // counts_against_upstream

namespace bastion::record {
namespace {

// Rows that reached the upstream: their latency is the agent's (as in the dataset export).
bool reached_upstream(std::string_view status) {
  return status == "ok" || status == "error" || status == "timeout";
}

// Requests the gateway refused (denied, rate_limited) say nothing about the agent: they are left
// out of its call counts and error rate (as in the live windows and the triggers), and show up
// only as error patterns.
bool refused_by_gateway(std::string_view status) { return status == "denied" || status == "rate_limited"; }

struct Latency {
  std::uint64_t count = 0, errors = 0, timeouts = 0;
  double sum_ms = 0;
  LatencyHistogram histogram;

  void add(const Interaction& r) {
    if (refused_by_gateway(r.status)) return;
    ++count;
    // As in the live windows: an error the caller caused (bad params, unknown method...) is a served call.
    if (observe::counts_against_upstream(r.status, static_cast<int>(r.error_code.value_or(0)))) ++errors;
    if (r.status == "timeout") ++timeouts;
    if (reached_upstream(r.status)) {
      histogram.add(r.latency_ms);
      sum_ms += r.latency_ms >= 0 ? r.latency_ms : 0;  // the histogram counts NaN/negative as 0
    }
  }

  observe::LatencyStats stats() const {
    observe::LatencyStats s;
    s.count = count;
    s.errors = errors;
    s.timeouts = timeouts;
    if (histogram.count() > 0) {
      s.p50_ms = histogram.percentile(0.50);
      s.p95_ms = histogram.percentile(0.95);
      s.p99_ms = histogram.percentile(0.99);
      s.mean_ms = sum_ms / static_cast<double>(histogram.count());
      s.max_ms = histogram.max();
    }
    return s;
  }
};

struct ToolGroup {
  std::string agent, tool;
  bool whole_agent = false;  // every row of the agent, any method
  Latency latency;
};

struct PatternGroup {
  observe::ErrorPattern pattern;
  Clock::time_point first, last;
};

class Analyzer {
 public:
  explicit Analyzer(const StoreAnalysisLimits& limits) : limits_(limits) {}

  void visit(const Interaction& r) {
    ++rows_;
    const std::string tool = r.tool.value_or("");
    bool missed = false;
    if (ToolGroup* g = tool_group(probe_({r.agent_type, r.tool ? "t" : "-", tool}), r.agent_type,
                                  tool, false)) {
      g->latency.add(r);
    } else {
      missed = true;
    }
    if (ToolGroup* a = tool_group(probe_({r.agent_type, "*"}), r.agent_type, "", true)) {
      a->latency.add(r);
    } else {
      missed = true;
    }
    if (missed) ++overflow_tools_;
    if (r.status != "ok") add_error(r, tool);
  }

  void finish(observe::AnalysisInput& in) {
    std::vector<const ToolGroup*> tools, agents;
    for (const auto& [key, g] : tools_) (g.whole_agent ? agents : tools).push_back(&g);
    auto by_name = [](const ToolGroup* a, const ToolGroup* b) {
      return std::tie(a->agent, a->tool) < std::tie(b->agent, b->tool);
    };
    std::sort(tools.begin(), tools.end(), by_name);
    std::sort(agents.begin(), agents.end(), by_name);
    for (const ToolGroup* g : tools) in.tools.push_back({g->agent, g->tool, g->latency.stats()});
    for (const ToolGroup* g : agents) in.agents.push_back({g->agent, g->latency.stats()});

    std::vector<PatternGroup*> patterns;
    for (auto& [key, p] : patterns_) patterns.push_back(&p);
    std::sort(patterns.begin(), patterns.end(), [](const PatternGroup* a, const PatternGroup* b) {
      const auto& x = a->pattern;
      const auto& y = b->pattern;
      if (x.count != y.count) return x.count > y.count;
      return std::tie(x.upstream, x.tool, x.status, x.error_code, x.message_shape) <
             std::tie(y.upstream, y.tool, y.status, y.error_code, y.message_shape);
    });
    for (PatternGroup* p : patterns) {
      p->pattern.first_seen = format_timestamp(p->first);
      p->pattern.last_seen = format_timestamp(p->last);
      in.errors.push_back(std::move(p->pattern));
    }
    if (overflow_tools_ > 0) {
      in.notes.push_back("the latency table reached its limit of " +
                         std::to_string(limits_.max_tool_groups) + " (agent, tool) groups; " +
                         std::to_string(overflow_tools_) + " rows are left out of some figures");
    }
    if (overflow_patterns_ > 0) {
      in.notes.push_back("the error-pattern table reached its limit of " +
                         std::to_string(limits_.max_error_patterns) + " patterns; " +
                         std::to_string(overflow_patterns_) + " failed rows are left out of it");
    }
  }

  std::uint64_t rows() const { return rows_; }
  std::uint64_t overflow_rows() const { return overflow_tools_ + overflow_patterns_; }

 private:
  ToolGroup* tool_group(std::string_view key, const std::string& agent, const std::string& tool,
                        bool whole_agent) {
    if (auto it = tools_.find(key); it != tools_.end()) return &it->second;
    if (tools_.size() >= limits_.max_tool_groups) return nullptr;
    ToolGroup& g = tools_.try_emplace(std::string(key)).first->second;
    g.agent = agent;
    g.tool = tool;
    g.whole_agent = whole_agent;
    return &g;
  }

  void add_error(const Interaction& r, const std::string& tool) {
    std::string shape = r.error_message ? normalize_error_message(*r.error_message) : "";
    std::string code = r.error_code ? std::to_string(*r.error_code) : "";
    std::string_view key = probe_({r.agent_type, r.tool ? "t" : "-", tool, r.status, code, shape});
    auto it = patterns_.find(key);
    if (it == patterns_.end()) {
      if (patterns_.size() >= limits_.max_error_patterns) {
        ++overflow_patterns_;
        return;
      }
      it = patterns_.try_emplace(std::string(key)).first;
      auto& p = it->second.pattern;
      p.upstream = r.agent_type;
      p.tool = tool;
      p.status = r.status;
      p.error_code = std::move(code);
      p.message_shape = std::move(shape);
      it->second.first = it->second.last = r.timestamp;
    }
    PatternGroup& g = it->second;
    ++g.pattern.count;
    g.first = std::min(g.first, r.timestamp);
    g.last = std::max(g.last, r.timestamp);
    auto& examples = g.pattern.example_input_hashes;
    if (r.input_hash && examples.size() < limits_.max_examples &&
        std::find(examples.begin(), examples.end(), *r.input_hash) == examples.end()) {
      examples.push_back(*r.input_hash);
    }
  }

  StoreAnalysisLimits limits_;
  GroupKeyProbe probe_;
  std::uint64_t rows_ = 0;
  std::uint64_t overflow_tools_ = 0, overflow_patterns_ = 0;
  GroupTable<ToolGroup> tools_;  // (agent, tool) groups and (agent, "*") whole-agent groups
  GroupTable<PatternGroup> patterns_;
};

}  // namespace

StoreAnalysis analyze_store(Store& store, Clock::time_point since, Clock::time_point until,
                            const StoreAnalysisLimits& limits) {
  StoreAnalysis out;
  out.input.source = "store";
  out.input.window_seconds = std::chrono::duration<double>(until - since).count();
  if (StoreResult opened = store.open(); !opened.ok) {
    out.status = {false, "cannot open the store: " + opened.error};
    return out;
  }
  Analyzer analyzer(limits);
  StoreResult scanned = store.scan(ScanRange{since, until}, [&](const Interaction& row) {
    analyzer.visit(row);
    return true;
  });
  if (!scanned.ok) {
    out.status = {false, "store scan failed: " + scanned.error};
    out.input.notes.push_back(out.status.error);
  }
  analyzer.finish(out.input);
  out.rows = analyzer.rows();
  out.overflow_rows = analyzer.overflow_rows();
  return out;
}

}  // namespace bastion::record
