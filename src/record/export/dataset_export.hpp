#pragma once
// `bastion dataset export` (ARCHITECTURE §7): one streaming pass over Store::scan that writes
//   successful_interactions.jsonl       chat tool-use examples (needs captured payloads)
//   contradiction_improvements.jsonl    preference pairs per (tool, input_hash)
//   failure_patterns.jsonl              grouped errors
//   optimization_opportunities.jsonl    cacheable repeats, slow / timeout-prone tools, big outputs
//   manifest.json                       counts, range, schema version, skipped rows and why
// Memory does not grow with the number of rows, only with the number of distinct groups
// (tools, (tool, input) pairs, error shapes), and that is capped by max_groups. No Asio here.
#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error_shape.hpp"
#include "record/interaction.hpp"

namespace bastion::record {

// The input schema of a tool (`inputSchema` from tools/list), or nullopt when unknown.
using ToolSchemaLookup =
    std::function<std::optional<boost::json::object>(std::string_view agent, std::string_view tool)>;

struct ExportOptions {
  std::string out_dir;                          // created 0700 when missing
  std::optional<Clock::time_point> since;       // inclusive
  std::optional<Clock::time_point> until;       // exclusive
  double quality_threshold = 0.7;               // successful examples: quality >= this (or none)
  std::uint32_t repeat_threshold = 3;           // same input -> same output this often: cacheable
  double slow_ms = 5000;                        // slow_tool when p95 latency exceeds this
  double timeout_share = 0.05;                  // timeout_prone when timeouts/calls >= this
  std::uint64_t oversized_bytes = 1 << 20;      // oversized_output when a response exceeds this
  std::size_t max_groups = 1'000'000;           // memory bound over all group tables together
  std::string capture_mode;                     // "hashed"|"redacted"|"full" as configured
  std::string bastion_version;                  // written to the manifest
  std::optional<ToolSchemaLookup> tool_schema;  // parameters of the exported tool definitions
};

// File names inside out_dir.
inline constexpr std::string_view kSuccessfulFile = "successful_interactions.jsonl";
inline constexpr std::string_view kPairsFile = "contradiction_improvements.jsonl";
inline constexpr std::string_view kFailuresFile = "failure_patterns.jsonl";
inline constexpr std::string_view kOpportunitiesFile = "optimization_opportunities.jsonl";
inline constexpr std::string_view kManifestFile = "manifest.json";

struct ExportProgress {
  std::uint64_t rows = 0;
  double seconds = 0;  // since the scan started
};

struct ExportSummary {
  bool ok = false;
  std::string error;  // set when !ok; nothing is renamed into place then
  int exit_code = 0;  // 0 ok, 1 store or file error, 2 invalid options
  std::uint64_t rows_scanned = 0;
  std::uint64_t successful = 0;      // lines in each file
  std::uint64_t pairs = 0;
  std::uint64_t failure_patterns = 0;
  std::uint64_t opportunities = 0;
  std::uint64_t skipped_no_payload = 0;       // ok tools/call rows that had no payload captured
  std::uint64_t pairs_skipped_no_payload = 0;
  std::uint64_t group_overflow_rows = 0;      // rows left out of some table at max_groups
  double seconds = 0;
  boost::json::object manifest;  // what manifest.json holds
};

// The export itself. `on_progress` (optional) is called every few thousand rows; it must be cheap.
ExportSummary export_dataset(const ExportOptions& options, Store& store,
                             const std::function<void(const ExportProgress&)>& on_progress = {});

// The CLI entry: runs export_dataset, shows a `\r` progress line (at most 4 updates a second,
// with rows/s) when progress_is_tty, else one summary line at the end; errors go to progress_out
// too. Returns the process exit code (ExportSummary::exit_code).
int run_dataset_export(const ExportOptions& options, Store& store, std::ostream& progress_out,
                       bool progress_is_tty);

// The error-message shape of failure_patterns.jsonl (see core/error_shape.hpp).
using core::normalize_error_message;

// Latency percentiles in bounded memory: log-spaced buckets (relative error <= 1%), stored
// densely between the smallest and largest bucket seen; results clamped to the exact min/max.
class LatencyHistogram {
 public:
  void add(double ms);
  std::uint64_t count() const { return count_; }
  // Nearest-rank percentile, q in (0, 1]. 0 when empty.
  double percentile(double q) const;
  double min() const { return min_; }
  double max() const { return max_; }

 private:
  std::uint64_t count_ = 0;
  std::uint64_t zeros_ = 0;  // values below the first bucket (<= 1 µs)
  int first_ = 0;            // bucket index of counts_[0]
  std::vector<std::uint64_t> counts_;
  double min_ = 0;
  double max_ = 0;
};

}  // namespace bastion::record
