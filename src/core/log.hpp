#pragma once
// Process-wide logging: spdlog to stderr, as JSON lines (default) or text.
#include <string>
#include <string_view>

#include "core/config.hpp"

namespace bastion::core {

void setup_logging(const LogConfig& config);

// Escapes a string for inclusion inside a JSON string literal (used by the JSON log format).
std::string json_escape(std::string_view text);

}  // namespace bastion::core
