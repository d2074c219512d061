#pragma once
// Parsing of the human units used in configuration: durations ("250ms", "10s", "5m") and
// sizes ("4MiB", "1.5GB"). Pure functions, no exceptions.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace bastion::core {

// "250ms", "10s", "5m", "1h", "1.5s"; a bare number means milliseconds.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// "4MiB", "512KiB", "1.5GB", "100kB", "1024"; decimal (kB, MB, GB) and binary (KiB, MiB, GiB) units.
std::optional<std::uint64_t> parse_size(std::string_view text);

// "5%" or "0.05" -> 0.05; must lie within [0, 1].
std::optional<double> parse_ratio(std::string_view text);

}  // namespace bastion::core

namespace bastion::core {

// nginx limit_req rates: "10r/s", "10r/m" (also "0.5r/s") -> requests per second, > 0.
std::optional<double> parse_request_rate(std::string_view text);

}  // namespace bastion::core
