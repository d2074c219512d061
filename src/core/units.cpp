#include "core/units.hpp"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cmath>
#include <string>

namespace bastion::core {
namespace {

// Splits "1.5GB" into 1.5 and "GB"; rejects empty, negative and non-finite numbers.
std::optional<std::pair<double, std::string_view>> split_number(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end == text.data() || !std::isfinite(value) || value < 0) {
    return std::nullopt;
  }
  std::string_view unit(end, text.data() + text.size() - end);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  return std::make_pair(value, unit);
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto parts = split_number(text);
  if (!parts) return std::nullopt;
  auto [value, unit] = *parts;
  double ms = 0;
  if (unit.empty() || unit == "ms") {
    ms = value;
  } else if (unit == "s") {
    ms = value * 1000;
  } else if (unit == "m") {
    ms = value * 60'000;
  } else if (unit == "h") {
    ms = value * 3'600'000;
  } else if (unit == "d") {
    ms = value * 86'400'000;
  } else {
    return std::nullopt;
  }
  if (ms > 1e15) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(ms)));
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  auto parts = split_number(text);
  if (!parts) return std::nullopt;
  auto [value, unit] = *parts;
  double factor = 0;
  if (unit.empty() || unit == "B") factor = 1;
  else if (unit == "kB" || unit == "KB") factor = 1e3;
  else if (unit == "MB") factor = 1e6;
  else if (unit == "GB") factor = 1e9;
  else if (unit == "KiB") factor = 1024.0;
  else if (unit == "MiB") factor = 1024.0 * 1024;
  else if (unit == "GiB") factor = 1024.0 * 1024 * 1024;
  else return std::nullopt;
  double bytes = value * factor;
  if (bytes > 1e18) return std::nullopt;
  return static_cast<std::uint64_t>(std::llround(bytes));
}

std::optional<double> parse_ratio(std::string_view text) {
  auto parts = split_number(text);
  if (!parts) return std::nullopt;
  auto [value, unit] = *parts;
  if (unit == "%") value /= 100.0;
  else if (!unit.empty()) return std::nullopt;
  if (value > 1.0) return std::nullopt;
  return value;
}

}  // namespace bastion::core

namespace bastion::core {

std::optional<double> parse_request_rate(std::string_view text) {
  auto r = text.find("r/");
  if (r == std::string_view::npos || r == 0 || r + 3 != text.size()) return std::nullopt;
  double per_second;
  if (text[r + 2] == 's') per_second = 1;
  else if (text[r + 2] == 'm') per_second = 1.0 / 60;
  else return std::nullopt;
  auto number = text.substr(0, r);
  for (char c : number) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.') return std::nullopt;
  }
  char* end = nullptr;
  std::string copy(number);
  double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !(value > 0) || value > 1e9) return std::nullopt;
  return value * per_second;
}

}  // namespace bastion::core
