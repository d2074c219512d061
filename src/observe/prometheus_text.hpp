#pragma once
// Prometheus text exposition format 0.0.4 for a Registry snapshot.
#include <string>
#include <string_view>
#include <vector>

#include "observe/metrics.hpp"

namespace bastion::observe {

inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// Families in name order (as collected), series in label-value order; histograms as cumulative
// _bucket{le=...} including +Inf, then _sum and _count.
std::string render(const Registry& registry);
std::string render(const std::vector<FamilySnapshot>& families);

// Shortest text that parses back to exactly v: integers (|v| < 1e21) without exponent, other values
// in fixed notation for 1e-4 <= |v| < 1e21 and scientific otherwise; "+Inf", "-Inf", "NaN".
std::string format_double(double v);
// Label values: backslash, double quote and newline escaped.
std::string escape_label_value(std::string_view value);
// HELP text: backslash and newline escaped.
std::string escape_help(std::string_view help);

}  // namespace bastion::observe
