#include "record/tagger.hpp"

#include <cmath>

namespace bastion::record {
namespace json = boost::json;
namespace {

// A JSON number (not a bool) that lies in [0, 1].
std::optional<double> unit_number(const json::value& v) {
  double d = 0;
  if (v.is_double())
    d = v.get_double();
  else if (v.is_int64())
    d = static_cast<double>(v.get_int64());
  else if (v.is_uint64())
    d = static_cast<double>(v.get_uint64());
  else
    return std::nullopt;
  if (!std::isfinite(d) || d < 0.0 || d > 1.0) return std::nullopt;
  return d;
}

void read_score(const json::object& meta, std::string_view key, std::optional<double>& field,
                std::atomic<std::uint64_t>& invalid) {
  auto it = meta.find(key);
  if (it == meta.end()) return;
  if (auto v = unit_number(it->value())) {
    field = *v;
  } else {
    invalid.fetch_add(1, std::memory_order_relaxed);
  }
}

std::optional<std::string_view> level_of(const json::value& v, const TagConfig& config) {
  if (v.is_bool()) return v.get_bool() ? std::string_view("mild") : std::string_view("none");
  if (v.is_string()) {
    std::string_view s = v.get_string();
    for (std::string_view level : {"none", "mild", "moderate", "extreme"}) {
      if (s == level) return level;
    }
    return std::nullopt;
  }
  if (auto score = unit_number(v)) return contradiction_level_for_score(*score, config);
  return std::nullopt;
}

}  // namespace

std::string_view latency_bucket(double latency_ms, bool timed_out, const TagConfig& config) {
  if (timed_out || !(latency_ms <= static_cast<double>(config.slow.count()))) return "timeout";
  if (latency_ms <= static_cast<double>(config.fast.count())) return "fast";
  if (latency_ms <= static_cast<double>(config.normal.count())) return "normal";
  return "slow";
}

std::optional<std::string_view> contradiction_level_for_score(double score,
                                                              const TagConfig& config) {
  if (!(score >= 0.0 && score <= 1.0)) return std::nullopt;
  if (score >= config.extreme) return "extreme";
  if (score >= config.moderate) return "moderate";
  if (score >= config.mild) return "mild";
  return "none";
}

void tag_latency(Interaction& record, double latency_ms, bool timed_out, const TagConfig& config) {
  record.latency_ms = std::isfinite(latency_ms) && latency_ms > 0 ? latency_ms : 0.0;
  record.latency_bucket = std::string(latency_bucket(record.latency_ms, timed_out, config));
}

void tag_meta(Interaction& record, const json::object& meta, const TagConfig& config,
              TagStats& stats) {
  read_score(meta, "bastion/quality", record.output_quality, stats.invalid_quality);
  read_score(meta, "bastion/precision", record.precision_score, stats.invalid_precision);
  read_score(meta, "bastion/confidence", record.agent_confidence, stats.invalid_confidence);
  if (auto it = meta.find("bastion/contradiction"); it != meta.end()) {
    if (auto level = level_of(it->value(), config)) {
      record.contradiction_level = std::string(*level);
      record.contradiction_applied = *level != "none";
    } else {
      stats.invalid_contradiction.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

void tag_result(Interaction& record, const json::value& result, const TagConfig& config,
                TagStats& stats) {
  const auto* obj = result.if_object();
  if (!obj) return;
  auto it = obj->find("_meta");
  if (it == obj->end()) return;
  if (const auto* meta = it->value().if_object()) {
    tag_meta(record, *meta, config, stats);
  } else {
    stats.invalid_meta.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace bastion::record
