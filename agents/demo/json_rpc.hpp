// JSON-RPC 2.0 framing for the demo agent: classify one decoded message, build replies.
// Pure functions, no I/O, so they are unit-tested without a process.
#pragma once

#include <boost/json.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace bastion::demo::jsonrpc {

namespace json = boost::json;

// Standard JSON-RPC codes plus the MCP-specific ones the agent emits.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kServerBusy = -32000;
inline constexpr int kResourceNotFound2025 = -32002;  // 2025 revisions; 2026 uses -32602
inline constexpr int kMissingClientCapability = -32021;
inline constexpr int kUnsupportedProtocolVersion = -32022;

// Nesting beyond this is rejected as a parse error (ARCHITECTURE: max_json_depth 64).
inline constexpr std::size_t kMaxDepth = 64;

struct RpcError {
  int code = kInternalError;
  std::string message;
  std::optional<json::value> data;
};

struct Request {
  json::value id;
  std::string method;
  json::object params;  // empty object when the message had no params
};

struct Notification {
  std::string method;
  json::object params;
};

// A reply from the client to a request the agent sent (sampling, elicitation, roots).
struct Response {
  json::value id;
  json::object message;  // the whole message; holds either "result" or "error"
};

// A message that must be answered with an error (id is null when it could not be read).
struct Invalid {
  json::value id;
  RpcError error;
};

using Message = std::variant<Request, Notification, Response, Invalid>;

// Parses one line; nullopt means malformed JSON (answer -32700 with id null).
std::optional<json::value> parse(std::string_view line);

// Classifies one decoded element (a batch is split by the caller).
Message classify(const json::value& value);

bool is_valid_id(const json::value& id);

// Stable text form of an id, used as a map key ("7" and "\"7\"" stay distinct).
std::string id_key(const json::value& id);

json::object make_result(const json::value& id, json::object result);
json::object make_error(const json::value& id, const RpcError& error);
json::object make_notification(std::string_view method, json::object params);
json::object make_request(const json::value& id, std::string_view method, json::object params);

}  // namespace bastion::demo::jsonrpc
