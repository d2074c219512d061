#pragma once
// What `GET /api/v1/analysis?window=…` analyses: the gateway's live view (per-tool windows and
// error patterns since start, replica memory with its forecast, queueing), and, for windows longer
// than the live windows keep, the knowledge base over that window. Memory and queueing are live.
#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "app/supervisor.hpp"
#include "core/config.hpp"
#include "observe/analyzer.hpp"
#include "observe/live_stats.hpp"
#include "upstream/upstream.hpp"

namespace bastion::app {

struct LiveView {
  const observe::LiveStats* calls = nullptr;
  std::chrono::seconds calls_capacity{0};  // how far back the live windows reach
  std::map<std::string, UpstreamAssessment> assessments;
  std::vector<upstream::UpstreamStatus> upstreams;
};

// The live half: tools and error patterns from the live windows (when the window fits in them),
// memory and queueing always. Thresholds are the configured default triggers.
observe::AnalysisInput live_analysis_input(const core::Config& config, const LiveView& view, std::chrono::seconds window);

// Whether the store must supply tools and errors for this window.
bool needs_store(const core::Config& config, const LiveView& view, std::chrono::seconds window);

// Replaces tools, agents and error patterns of `live` with the store's over the window.
// Returns false (and a note) when the store cannot be read.
bool add_store_analysis(const core::Config& config, std::chrono::seconds window, observe::AnalysisInput& live);

}  // namespace bastion::app
