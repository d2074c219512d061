#pragma once
// JSON-RPC 2.0 codec for MCP: parse a request body under limits, classify messages, build errors.
// Pure: no I/O, so it is unit-tested and fuzzed without sockets.
#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bastion::mcp {

namespace json = boost::json;

// Standard JSON-RPC codes and the MCP-specific ones Bastion emits.
namespace code {
inline constexpr int parse_error = -32700;
inline constexpr int invalid_request = -32600;
inline constexpr int method_not_found = -32601;
inline constexpr int invalid_params = -32602;
inline constexpr int internal_error = -32603;
inline constexpr int resource_not_found = -32002;
inline constexpr int header_mismatch = -32020;         // 2026-07-28: Mcp-Method/Mcp-Name vs body
inline constexpr int unsupported_version = -32022;     // 2026-07-28: protocol version not supported
inline constexpr int request_timeout = -32001;         // Bastion: the upstream did not answer in time
inline constexpr int upstream_unavailable = -32003;    // Bastion: no healthy upstream replica
inline constexpr int session_not_found = -32004;       // Bastion: unknown or expired session
inline constexpr int request_cancelled = -32800;
}  // namespace code

enum class MessageKind { request, notification, response };

// One validated JSON-RPC message. `body` owns the whole object; accessors read from it.
struct Message {
  MessageKind kind{};
  json::object body;

  const json::value* id() const { return body.if_contains("id"); }
  std::string_view method() const;
  const json::object* params() const;
  json::object* params();
  bool is_error_response() const { return kind == MessageKind::response && body.contains("error"); }
};

struct ParseLimits {
  std::size_t max_depth = 64;
};

// Why a body could not be turned into messages; maps to a JSON-RPC error reply.
struct ParseFailure {
  int code = code::parse_error;
  std::string message;
  json::value id;  // the request id when it could be recovered, else null
};

struct ParsedBody {
  std::vector<Message> messages;
  bool batch = false;
};

struct ParseResult {
  std::optional<ParsedBody> body;
  std::optional<ParseFailure> failure;
};

// Parses an HTTP body (a message or, where the caller allows it, a batch array).
ParseResult parse_body(std::string_view text, const ParseLimits& limits);

// Parses one stdio line from an upstream; nullopt for anything that is not a valid message.
std::optional<Message> parse_upstream_line(std::string_view line, std::size_t max_depth = 256);

// Checks one decoded value is a valid JSON-RPC 2.0 message for MCP (ids are strings or integers).
std::optional<Message> classify(json::value value, ParseFailure& failure);

json::object make_error(const json::value& id, int code, std::string_view message,
                        const json::value* data = nullptr);
json::object make_result(const json::value& id, json::value result);

// Ids must be strings or integers; MCP forbids null ids on requests.
bool valid_id(const json::value& id);

}  // namespace bastion::mcp
