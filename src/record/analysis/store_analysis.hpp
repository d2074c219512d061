#pragma once
// Store analysis for `bastion analyze` (and the admin API's store half): one streaming pass over
// Store::scan that fills observe::AnalysisInput with per-(agent_type, tool) latency and error
// figures, whole-agent figures, and grouped error patterns. No Asio.
//
// Why here: the figures come from interaction rows, the output type is the analyzer's. This is a
// leaf library (bastion::record_analysis) that nothing in record or observe links, so neither of
// those layers learns about the other; it reuses the dataset export's bounded aggregates
// (LatencyHistogram, normalize_error_message) instead of a second copy.
//
// What each figure is
// - count: every row of the group in [since, until) (all statuses); errors: status != "ok";
//   timeouts: status == "timeout". So the error rate includes the gateway's own refusals
//   (denied, rate_limited, unavailable); the error patterns say which status it was.
// - p50/p95/p99, mean, max: over rows that reached the upstream (ok, error, timeout): a denied or
//   rate-limited call has no agent latency and would only pull the percentiles down.
//   Percentiles are nearest-rank over log-spaced buckets 2% wide: within 1% of the exact
//   nearest-rank value (extremes exact). mean and max are exact.
// - agents: one histogram per agent_type over all its rows (every method), so the agent
//   percentiles are merged, not the analyzer's upper bound.
// - error patterns: rows with status != "ok" grouped by (agent_type, tool, status, error_code,
//   normalize_error_message(error_message)): count, first/last seen, up to max_examples distinct
//   input hashes.
// Memory: bounded by the limits, not by the number of rows: at most max_tool_groups latency
// groups (each histogram at most ~12 KiB, typically ~4 KiB) and max_error_patterns patterns.
// Rows that would open a group past a limit are counted and named in input.notes.
#include <cstddef>
#include <cstdint>

#include "observe/analyzer.hpp"
#include "record/interaction.hpp"

namespace bastion::record {

struct StoreAnalysisLimits {
  std::size_t max_tool_groups = 2'000;  // (agent, tool) pairs plus agents
  std::size_t max_error_patterns = 10'000;
  std::size_t max_examples = 3;  // input hashes kept per pattern
};

struct StoreAnalysis {
  StoreResult status;            // !ok: the store could not be opened or scanned
  observe::AnalysisInput input;  // source "store"; window = until - since; default thresholds
  std::uint64_t rows = 0;
  std::uint64_t overflow_rows = 0;  // rows left out of some table at a limit
};

// Opens the store (idempotent) and scans since <= timestamp < until.
StoreAnalysis analyze_store(Store& store, Clock::time_point since, Clock::time_point until,
                            const StoreAnalysisLimits& limits = {});

}  // namespace bastion::record
