#pragma once
// Tool allowlists per caller (token entry, JWT claim or auth_request user), enforced on
// tools/call and applied to tools/list so a caller never learns of tools it may not use.
#include "mcp/server/router.hpp"

namespace bastion::guard {

class ToolAllowlistPolicy final : public mcp::CallPolicy {
 public:
  boost::asio::awaitable<std::optional<mcp::PolicyDenial>> admit(const mcp::RequestCaller& caller,
                                                                 std::string_view method,
                                                                 std::string_view tool) const override;
  bool tool_visible(const mcp::RequestCaller& caller, std::string_view tool) const override;
};

}  // namespace bastion::guard
