#pragma once
// Header rules of the Streamable HTTP transport that do not need a socket: media types in
// Accept, the MCP-Protocol-Version header, and the 2026-07-28 Mcp-Method / Mcp-Name headers
// (with their "=?base64?...?=" encoding). Pure functions.
#include <optional>
#include <string>
#include <string_view>

#include "mcp/jsonrpc.hpp"

namespace bastion::mcp {

// True when an Accept header lists `media_type` (or a matching wildcard) with q > 0.
bool accepts(std::string_view accept_header, std::string_view media_type);

// Decodes a header value per SEP-2243: trims optional whitespace; "=?base64?X?=" is strict
// Base64 (padding required, standard alphabet); anything else is literal. nullopt = invalid.
std::optional<std::string> decode_header_value(std::string_view raw);

struct HeaderCheck {
  bool ok = true;
  std::string message;  // why not, for the -32020 error
};

// Checks Mcp-Method (required on every request) and Mcp-Name (required for tools/call,
// prompts/get and resources/read) against the body. `method_header`/`name_header` are nullopt
// when absent.
HeaderCheck check_method_headers(const Message& request, std::optional<std::string_view> method_header,
                                 std::optional<std::string_view> name_header);

// Request headers named Mcp-Param-<Name> (lower-cased <Name> -> raw value).
using ParamHeaders = std::vector<std::pair<std::string, std::string>>;

// SEP-2243: every tool argument whose schema property carries "x-mcp-header": "<Name>" and has a
// non-null value in the body must arrive as a matching Mcp-Param-<Name> header (decoded; strings
// as-is, integers numerically, booleans as true/false). Headers naming no such property are not
// checked here (intermediaries forward them).
HeaderCheck check_param_headers(const json::object& input_schema, const json::object* arguments,
                                const ParamHeaders& headers);

}  // namespace bastion::mcp
