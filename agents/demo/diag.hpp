// The agent's own diagnostics. stdout belongs to the protocol, so these go to stderr only.
#pragma once

#include <string_view>

namespace bastion::demo {

enum class DiagLevel { debug, info, warn, error };

// Threshold from BASTION_DEMO_LOG (debug|info|warn|error), default warn.
void init_diagnostics();
void diag(DiagLevel level, std::string_view message);

}  // namespace bastion::demo
