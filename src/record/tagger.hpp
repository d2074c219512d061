#pragma once
// Fills the tag columns of an Interaction: latency bucket, and the quality/contradiction tags an
// agent reports in its result's `_meta` (ARCHITECTURE §6). Agents are untrusted: anything out of
// range or of the wrong type is ignored and counted, never stored.
#include <atomic>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "record/interaction.hpp"

namespace bastion::record {

struct TagConfig {
  // Upper bounds (inclusive) of the latency buckets; beyond `slow` is "timeout".
  std::chrono::milliseconds fast{250}, normal{1'000}, slow{5'000};
  // Lower bounds (inclusive) of the contradiction levels for a numeric score in [0, 1]:
  // score < mild -> none; mild <= score < moderate -> mild; moderate <= score < extreme ->
  // moderate; score >= extreme -> extreme. Expected 0 <= mild <= moderate <= extreme <= 1.
  double mild = 0.25, moderate = 0.5, extreme = 0.75;
};

// Counters of rejected `_meta` tags, by reason. Shared by every request thread; read by metrics.
struct TagStats {
  std::atomic<std::uint64_t> invalid_quality{0};
  std::atomic<std::uint64_t> invalid_precision{0};
  std::atomic<std::uint64_t> invalid_confidence{0};
  std::atomic<std::uint64_t> invalid_contradiction{0};
  std::atomic<std::uint64_t> invalid_meta{0};  // `_meta` present but not an object
};

// fast | normal | slow | timeout. `timed_out` (the call hit its deadline) always gives "timeout".
std::string_view latency_bucket(double latency_ms, bool timed_out, const TagConfig& config);

// none | mild | moderate | extreme for a score in [0, 1]; nullopt for anything else (NaN included).
std::optional<std::string_view> contradiction_level_for_score(double score,
                                                              const TagConfig& config);

// Sets latency_ms and latency_bucket.
void tag_latency(Interaction& record, double latency_ms, bool timed_out, const TagConfig& config);

// Reads the Bastion tags of a result's `_meta` object:
//   bastion/quality -> output_quality, bastion/precision -> precision_score,
//   bastion/confidence -> agent_confidence: a JSON number in [0, 1] (integers 0 and 1 included).
//   bastion/contradiction -> contradiction_level and contradiction_applied:
//     "none" | "mild" | "moderate" | "extreme" (exact, lower-case);
//     false -> none; true -> "mild" (the agent says it applied one without a strength, so the
//     weakest level that still counts as applied);
//     a number in [0, 1] -> the level from TagConfig's thresholds.
//   contradiction_applied = (level != "none").
// Absent keys leave the record unchanged; invalid values leave it unchanged and bump a counter.
void tag_meta(Interaction& record, const boost::json::object& meta, const TagConfig& config,
              TagStats& stats);

// As tag_meta, for a whole tool result: looks for an object member `_meta`. A result that is not
// an object, or has no `_meta`, changes nothing; a non-object `_meta` counts invalid_meta.
void tag_result(Interaction& record, const boost::json::value& result, const TagConfig& config,
                TagStats& stats);

}  // namespace bastion::record
