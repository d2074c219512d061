#include "observe/prometheus_text.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace bastion::observe {

namespace {

void append_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  if (v == 0.0) {  // also -0
    out += '0';
    return;
  }
  // Fixed notation keeps integers and everyday values readable (and le="0.0005" identical to what
  // other clients emit); to_chars without precision is the shortest round-trip form either way.
  const double magnitude = std::fabs(v);
  const auto format = (magnitude >= 1e21 || magnitude < 1e-4) ? std::chars_format::scientific : std::chars_format::fixed;
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, v, format);
  out.append(buf, result.ptr);
}

void append_escaped(std::string& out, std::string_view s, bool quote) {
  const std::string_view specials = quote ? std::string_view("\\\n\"") : std::string_view("\\\n");
  for (;;) {
    const auto pos = s.find_first_of(specials);
    out.append(s.substr(0, pos));  // most values need no escaping: append them whole
    if (pos == std::string_view::npos) return;
    const char c = s[pos];
    out += c == '\n' ? "\\n" : c == '"' ? "\\\"" : "\\\\";
    s.remove_prefix(pos + 1);
  }
}

void append_count(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, result.ptr);
}

// `a="x",b="y"` for one series, built once and reused for every line of a histogram.
std::string label_pairs(const FamilySnapshot& family, const SampleSnapshot& sample) {
  std::string out;
  for (std::size_t i = 0; i < family.label_names.size() && i < sample.label_values.size(); ++i) {
    if (i > 0) out += ',';
    out += family.label_names[i];
    out += "=\"";
    append_escaped(out, sample.label_values[i], true);
    out += '"';
  }
  return out;
}

// name + suffix + {pairs[,le="..."]} + ' ' ; the caller appends the value and the newline.
void append_series(std::string& out, std::string_view name, std::string_view suffix, std::string_view pairs,
                   std::string_view le = {}) {
  out += name;
  out += suffix;
  if (!pairs.empty() || !le.empty()) {
    out += '{';
    out += pairs;
    if (!le.empty()) {
      if (!pairs.empty()) out += ',';
      out += "le=\"";
      out += le;
      out += '"';
    }
    out += '}';
  }
  out += ' ';
}

}  // namespace

std::string format_double(double v) {
  std::string out;
  append_double(out, v);
  return out;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  append_escaped(out, value, true);
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  append_escaped(out, help, false);
  return out;
}

std::string render(const std::vector<FamilySnapshot>& families) {
  std::string out;
  out.reserve(families.size() * 128);
  for (const auto& family : families) {
    out += "# HELP ";
    out += family.name;
    out += ' ';
    append_escaped(out, family.help, false);
    out += "\n# TYPE ";
    out += family.name;
    out += ' ';
    out += to_string(family.type);
    out += '\n';
    std::vector<std::string> le;
    if (family.type == MetricType::histogram) {
      for (const double bound : family.bounds) le.push_back(format_double(bound));
      le.emplace_back("+Inf");
    }
    for (const auto& sample : family.samples) {
      const auto pairs = label_pairs(family, sample);
      if (family.type != MetricType::histogram) {
        append_series(out, family.name, {}, pairs);
        append_double(out, sample.value);
        out += '\n';
        continue;
      }
      for (std::size_t i = 0; i < sample.cumulative_counts.size() && i < le.size(); ++i) {
        append_series(out, family.name, "_bucket", pairs, le[i]);
        append_count(out, sample.cumulative_counts[i]);
        out += '\n';
      }
      append_series(out, family.name, "_sum", pairs);
      append_double(out, sample.sum);
      out += '\n';
      append_series(out, family.name, "_count", pairs);
      append_count(out, sample.count);
      out += '\n';
    }
  }
  return out;
}

std::string render(const Registry& registry) { return render(registry.collect()); }

}  // namespace bastion::observe
