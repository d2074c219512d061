#include "guard/call_policy.hpp"

#include "guard/auth/tool_policy.hpp"

namespace bastion::guard {

bool ToolAllowlistPolicy::tool_visible(const mcp::RequestCaller& caller, std::string_view tool) const {
  if (caller.tools.empty()) return true;
  for (const auto& pattern : caller.tools) {
    if (auth::glob_match(pattern, tool)) return true;
  }
  return false;
}

boost::asio::awaitable<std::optional<mcp::PolicyDenial>> ToolAllowlistPolicy::admit(const mcp::RequestCaller& caller,
                                                                                    std::string_view method,
                                                                                    std::string_view tool) const {
  if (method != "tools/call" || tool_visible(caller, tool)) co_return std::nullopt;
  mcp::PolicyDenial denial;
  denial.status = "denied";
  denial.code = -32003;
  denial.message = "Forbidden: tool '" + std::string(tool) + "' is not allowed for " + caller.name;
  denial.reason = "tool_denied";
  co_return denial;
}

}  // namespace bastion::guard
