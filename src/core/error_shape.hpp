#pragma once
// Error-message shapes: one normaliser, so that the live error patterns (observe::LiveStats), the
// store analysis behind `bastion analyze` and the dataset export's failure_patterns.jsonl group
// the same failures under the same `message_shape`, whichever source answers.
#include <string>
#include <string_view>

namespace bastion::core {

// "Timeout after 5000 ms" and "timeout after 300 ms" -> "timeout after # ms": lower-cased,
// quoted strings -> <str>, hex/uuid-like tokens -> <id>, digit runs -> #, whitespace collapsed,
// at most 200 bytes (cut on a UTF-8 boundary).
std::string normalize_error_message(std::string_view message);

}  // namespace bastion::core
