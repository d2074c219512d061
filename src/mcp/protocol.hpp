#pragma once
// MCP protocol versions and eras. The 2025 era (2025-03-26 .. 2025-11-25) is stateful: an
// initialize handshake and Mcp-Session-Id. The 2026-07-28 era is stateless: every request carries
// its version and client capabilities in params._meta.
#include <array>
#include <optional>
#include <string_view>

#include "mcp/jsonrpc.hpp"

namespace bastion::mcp {

enum class Era { stateful, stateless };

inline constexpr std::string_view latest_stateful_version = "2025-11-25";
inline constexpr std::string_view stateless_version = "2026-07-28";
inline constexpr std::array<std::string_view, 3> stateful_versions = {"2025-11-25", "2025-06-18",
                                                                      "2025-03-26"};
// When a 2025-era request carries no MCP-Protocol-Version header the spec says to assume this.
inline constexpr std::string_view default_header_version = "2025-03-26";

// _meta keys of the 2026-07-28 era.
namespace meta {
inline constexpr std::string_view protocol_version = "io.modelcontextprotocol/protocolVersion";
inline constexpr std::string_view client_capabilities = "io.modelcontextprotocol/clientCapabilities";
inline constexpr std::string_view client_info = "io.modelcontextprotocol/clientInfo";
}  // namespace meta

bool is_stateful_version(std::string_view v);
bool is_supported_version(std::string_view v);
// Every version Bastion speaks, newest first (for -32022 error data and server/discover).
json::array supported_versions_json();

// The protocol version a request names in params._meta, if any (2026 era marker).
std::optional<std::string_view> meta_protocol_version(const Message& msg);
std::optional<std::string_view> meta_protocol_version(const json::object& message);

// Versions a client may ask for in initialize: the client's if supported, else our latest.
std::string_view negotiate_stateful_version(std::string_view requested);

// Methods whose params name the target object (for Mcp-Name and federation routing).
// tools/call -> params.name, prompts/get -> params.name, resources/* -> params.uri.
std::optional<std::string_view> target_name(const Message& msg);
std::optional<std::string_view> target_name(const json::object& message);

}  // namespace bastion::mcp
