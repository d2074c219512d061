#include "echo_server/echo_protocol.hpp"

#include <array>
#include <boost/json.hpp>
#include <cstdint>
#include <random>
#include <variant>

namespace bastion::bench {
namespace {

namespace json = boost::json;

constexpr std::string_view kStatelessVersion = "2026-07-28";
constexpr std::array<std::string_view, 3> kStatefulVersions = {"2025-11-25", "2025-06-18", "2025-03-26"};
constexpr std::string_view kMetaVersionKey = "io.modelcontextprotocol/protocolVersion";
constexpr std::string_view kServerName = "bastion-bench-echo";
constexpr std::string_view kServerVersion = "0.1.0";

// JSON-RPC and MCP error codes used here.
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kTransportError = -32000;  // SDK convention for transport-level rejections
constexpr int kHeaderMismatch = -32020;
constexpr int kUnsupportedVersion = -32022;

bool is_stateful_version(std::string_view v) {
  for (auto s : kStatefulVersions) {
    if (s == v) return true;
  }
  return false;
}

std::string error_body(const json::value& id, int code, std::string_view message,
                       const json::value* data = nullptr) {
  json::object error{{"code", code}, {"message", message}};
  if (data) error["data"] = *data;
  return json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(error)}});
}

Reply error_reply(unsigned status, const json::value& id, int code, std::string_view message,
                  const json::value* data = nullptr) {
  return Reply{status, error_body(id, code, message, data), {}, {}};
}

// Wraps an already serialised result; saves re-serialising constant catalogs on every call.
std::string result_body(const json::value& id, std::string_view result_json) {
  std::string out = R"({"jsonrpc":"2.0","id":)";
  out += json::serialize(id);
  out += R"(,"result":)";
  out += result_json;
  out += '}';
  return out;
}

json::object echo_tool() {
  return json::object{
      {"name", "echo"},
      {"title", "Echo"},
      {"description", "Returns the message unchanged."},
      {"inputSchema",
       json::object{{"type", "object"},
                    {"properties", json::object{{"message", json::object{{"type", "string"}}}}},
                    {"required", json::array{"message"}}}}};
}

json::array supported_versions() {
  json::array out{kStatelessVersion};
  for (auto v : kStatefulVersions) out.emplace_back(v);
  return out;
}

const json::object* object_member(const json::object* parent, std::string_view key) {
  if (!parent) return nullptr;
  const auto* v = parent->if_contains(key);
  return v ? v->if_object() : nullptr;
}

// tools/call echo: the result, or an error reply. Errors about the tool are JSON-RPC errors with
// HTTP 200, as a real server answers them.
std::variant<std::string, Reply> call_tool(const json::value& id, const json::object* params, bool stateless) {
  const auto* name = params ? params->if_contains("name") : nullptr;
  if (!name || !name->is_string()) {
    return error_reply(200, id, kInvalidParams, "Invalid params: params.name must be a string");
  }
  if (name->get_string() != "echo") {
    return error_reply(200, id, kInvalidParams, "Unknown tool: " + std::string(name->get_string()));
  }
  const auto* args = object_member(params, "arguments");
  const auto* message = args ? args->if_contains("message") : nullptr;
  if (!message || !message->is_string()) {
    return error_reply(200, id, kInvalidParams, "Invalid params: arguments.message must be a string");
  }
  json::object result;
  if (stateless) result["resultType"] = "complete";
  result["content"] = json::array{json::object{{"type", "text"}, {"text", message->get_string()}}};
  result["isError"] = false;
  return json::serialize(result);
}

// 204 when the header is exactly "Bearer <token>" (scheme case-insensitive, RFC 9110 §11.1),
// else 401. The comparison does not stop at the first differing byte.
Reply check_bearer(std::optional<std::string_view> authorization, std::string_view token) {
  constexpr std::string_view kScheme = "bearer ";
  if (!authorization || authorization->size() != kScheme.size() + token.size()) return Reply{401, {}, {}, {}};
  unsigned char diff = 0;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    char c = (*authorization)[i];
    if (i + 1 < kScheme.size()) c = static_cast<char>(c | 0x20);  // letters only: not the space
    diff |= static_cast<unsigned char>(c ^ kScheme[i]);
  }
  for (std::size_t i = 0; i < token.size(); ++i) {
    diff |= static_cast<unsigned char>((*authorization)[kScheme.size() + i] ^ token[i]);
  }
  return Reply{diff == 0 ? 204u : 401u, {}, {}, {}};
}

}  // namespace

std::string mint_session_id() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (std::size_t i = 0; i < id.size(); i += 16) {
    std::uint64_t bits = generator();
    for (std::size_t j = 0; j < 16; ++j, bits >>= 4) id[i + j] = kHex[bits & 0xf];
  }
  return id;
}

EchoService::EchoService(EchoOptions options) : options_(std::move(options)) {
  tools_list_2025_ = json::serialize(json::object{{"tools", json::array{echo_tool()}}});
  tools_list_2026_ = json::serialize(json::object{{"resultType", "complete"},
                                                  {"tools", json::array{echo_tool()}},
                                                  {"ttlMs", 0},
                                                  {"cacheScope", "public"}});
  json::object meta{{"io.modelcontextprotocol/serverInfo",
                     json::object{{"name", kServerName}, {"version", kServerVersion}}}};
  discover_ = json::serialize(json::object{{"resultType", "complete"},
                                           {"supportedVersions", supported_versions()},
                                           {"capabilities", json::object{{"tools", json::object{}}}},
                                           {"ttlMs", 0},
                                           {"cacheScope", "public"},
                                           {"_meta", std::move(meta)}});
}

Reply EchoService::handle(const RequestView& request) const {
  if (!options_.auth_token.empty() && request.target == options_.auth_path) {
    return check_bearer(request.authorization, options_.auth_token);
  }
  if (request.target != options_.path) return error_reply(404, nullptr, kTransportError, "Not Found");
  switch (request.verb) {
    case Verb::post: break;
    case Verb::get:  // no standalone SSE stream: this server never sends anything unasked
      return Reply{405, {}, {}, "POST, DELETE"};
    case Verb::del:  // nothing to forget: sessions are not stored
      if (!request.session_id) return error_reply(400, nullptr, kTransportError, "Bad Request: no Mcp-Session-Id");
      return Reply{200, {}, {}, {}};
    case Verb::other: return Reply{405, {}, {}, "POST, DELETE"};
  }
  if (!request.content_type || request.content_type->find("application/json") == std::string_view::npos) {
    return error_reply(415, nullptr, kTransportError, "Unsupported Media Type: Content-Type must be application/json");
  }

  json::parse_options parse_options;
  parse_options.max_depth = options_.max_json_depth;
  unsigned char scratch[4096];  // small requests parse without touching the heap
  json::monotonic_resource resource(scratch, sizeof scratch);
  boost::system::error_code ec;
  json::value doc = json::parse(request.body, ec, &resource, parse_options);
  if (ec) return error_reply(400, nullptr, kParseError, "Parse error");
  const auto* msg = doc.if_object();
  if (!msg) return error_reply(400, nullptr, kInvalidRequest, "Invalid Request: batches are not supported");
  const auto* jsonrpc = msg->if_contains("jsonrpc");
  if (!jsonrpc || !jsonrpc->is_string() || jsonrpc->get_string() != "2.0") {
    return error_reply(400, nullptr, kInvalidRequest, "Invalid Request: jsonrpc must be \"2.0\"");
  }
  const auto* id_value = msg->if_contains("id");
  const bool has_id = id_value && (id_value->is_string() || id_value->is_int64() || id_value->is_uint64());
  const json::value id = has_id ? json::value(*id_value) : json::value(nullptr);
  const auto* method_value = msg->if_contains("method");
  if (!method_value) {
    // A client's answer to a server request; this server never asks, so just acknowledge.
    if (has_id && (msg->contains("result") || msg->contains("error"))) return Reply{202, {}, {}, {}};
    return error_reply(400, nullptr, kInvalidRequest, "Invalid Request: no method");
  }
  if (!method_value->is_string()) return error_reply(400, id, kInvalidRequest, "Invalid Request: method must be a string");
  const std::string_view method = method_value->get_string();
  if (id_value && !has_id) return error_reply(400, nullptr, kInvalidRequest, "Invalid Request: id must be a string or integer");
  const auto* params_value = msg->if_contains("params");
  if (params_value && !params_value->is_object()) {
    return error_reply(400, id, kInvalidParams, "Invalid params: params must be an object");
  }
  const json::object* params = params_value ? params_value->if_object() : nullptr;
  const json::object* meta = object_member(params, "_meta");
  const json::value* meta_version = meta ? meta->if_contains(kMetaVersionKey) : nullptr;

  const bool stateless = meta_version != nullptr ||
                         (request.protocol_version && !is_stateful_version(*request.protocol_version));
  if (stateless) {
    if (!meta_version && *request.protocol_version != kStatelessVersion) {
      return error_reply(400, id, kTransportError,
                         "Bad Request: Unsupported protocol version: " + std::string(*request.protocol_version));
    }
    if (!meta_version || !meta_version->is_string()) {
      return error_reply(400, id, kInvalidParams,
                         "Invalid params: _meta[\"io.modelcontextprotocol/protocolVersion\"] is required");
    }
    const std::string_view requested = meta_version->get_string();
    if (!request.protocol_version || *request.protocol_version != requested) {
      return error_reply(400, id, kHeaderMismatch,
                         "Header mismatch: MCP-Protocol-Version header does not match the body");
    }
    if (requested != kStatelessVersion) {
      json::value data = json::object{{"supported", supported_versions()}, {"requested", requested}};
      return error_reply(400, id, kUnsupportedVersion, "Unsupported protocol version", &data);
    }
    if (request.mcp_method && *request.mcp_method != method) {
      return error_reply(400, id, kHeaderMismatch, "Header mismatch: Mcp-Method does not match the body");
    }
    if (!has_id) return Reply{202, {}, {}, {}};
    if (method == "tools/call") {
      auto r = call_tool(id, params, true);
      if (auto* reply = std::get_if<Reply>(&r)) return std::move(*reply);
      return Reply{200, result_body(id, std::get<std::string>(r)), {}, {}};
    }
    if (method == "tools/list") return Reply{200, result_body(id, tools_list_2026_), {}, {}};
    if (method == "server/discover") return Reply{200, result_body(id, discover_), {}, {}};
    return error_reply(404, id, kMethodNotFound, "Method not found: " + std::string(method));
  }

  // 2025 era.
  if (!has_id) return Reply{202, {}, {}, {}};
  if (method == "initialize") {
    std::string_view version = kStatefulVersions.front();
    const auto* requested = params ? params->if_contains("protocolVersion") : nullptr;
    if (requested && requested->is_string() && is_stateful_version(requested->get_string())) {
      version = requested->get_string();
    }
    json::object result{{"protocolVersion", version},
                        {"capabilities", json::object{{"tools", json::object{}}}},
                        {"serverInfo", json::object{{"name", kServerName}, {"version", kServerVersion}}}};
    return Reply{200, result_body(id, json::serialize(result)), mint_session_id(), {}};
  }
  if (!request.session_id || request.session_id->empty()) {
    return error_reply(400, id, kTransportError, "Bad Request: Mcp-Session-Id header is required");
  }
  if (method == "tools/call") {
    auto r = call_tool(id, params, false);
    if (auto* reply = std::get_if<Reply>(&r)) return std::move(*reply);
    return Reply{200, result_body(id, std::get<std::string>(r)), {}, {}};
  }
  if (method == "tools/list") return Reply{200, result_body(id, tools_list_2025_), {}, {}};
  if (method == "ping") return Reply{200, result_body(id, "{}"), {}, {}};
  if (method == "server/discover") return Reply{200, result_body(id, discover_), {}, {}};
  return error_reply(200, id, kMethodNotFound, "Method not found: " + std::string(method));
}

}  // namespace bastion::bench
