#include "demo/protocol.hpp"

#include <atomic>

#include <algorithm>

namespace bastion::demo::protocol {
namespace {

constexpr std::array<std::string_view, 8> kLevelNames = {
    "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"};

bool is_stateless_only(std::string_view method) {
  return method == "server/discover" || method == "subscriptions/listen";
}

jsonrpc::RpcError invalid_meta(std::string message) {
  return {jsonrpc::kInvalidParams, std::move(message), {}};
}

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view text) {
  const auto* it = std::find(kLevelNames.begin(), kLevelNames.end(), text);
  if (it == kLevelNames.end()) {
    return std::nullopt;
  }
  return static_cast<LogLevel>(it - kLevelNames.begin());
}

std::string_view to_string(LogLevel level) { return kLevelNames[static_cast<int>(level)]; }

namespace {
// --stateless-only: behave as a server that implements 2026-07-28 alone (for gateway tests).
std::atomic<bool> stateless_only{false};
}  // namespace

void set_stateless_only(bool on) { stateless_only = on; }

json::array supported_versions() {
  json::array out;
  out.emplace_back(kStatelessVersion);
  if (stateless_only) return out;
  for (auto it = kSessionVersions.rbegin(); it != kSessionVersions.rend(); ++it) {
    out.emplace_back(*it);
  }
  return out;
}

std::string negotiate_session_version(const json::value* requested) {
  if (requested != nullptr && requested->is_string()) {
    const std::string_view asked = requested->get_string();
    if (std::find(kSessionVersions.begin(), kSessionVersions.end(), asked) !=
        kSessionVersions.end()) {
      return std::string(asked);
    }
  }
  return std::string(kLatestSessionVersion);
}

json::object server_info() {
  json::object info;
  info["name"] = kServerName;
  info["title"] = kServerTitle;
  info["version"] = kServerVersion;
  return info;
}

bool ClientCapabilities::has(std::string_view name) const {
  const json::value* entry = declared_.if_contains(name);
  return entry != nullptr && entry->is_object();
}

std::variant<RequestMeta, jsonrpc::RpcError> read_meta(std::string_view method,
                                                       const json::object& params) {
  RequestMeta meta;
  const json::value* raw = params.if_contains("_meta");
  if (raw != nullptr && !raw->is_object()) {
    return invalid_meta("Invalid params: _meta must be an object");
  }
  const json::object* fields = raw != nullptr ? &raw->get_object() : nullptr;
  if (fields != nullptr) {
    const json::value* token = fields->if_contains("progressToken");
    if (token != nullptr && (token->is_string() || token->is_int64() || token->is_uint64())) {
      meta.progress_token = *token;
    }
  }

  const json::value* version =
      fields != nullptr ? fields->if_contains(kMetaProtocolVersion) : nullptr;
  if (version == nullptr) {
    if (stateless_only) {
      return invalid_meta("Invalid params: this server speaks only 2026-07-28; " +
                          std::string(method) + " needs _meta with " +
                          std::string(kMetaProtocolVersion));
    }
    if (is_stateless_only(method)) {
      return invalid_meta(std::string("Invalid params: ") + std::string(method) +
                          " requires _meta with " + std::string(kMetaProtocolVersion) + " and " +
                          std::string(kMetaClientCapabilities));
    }
    return meta;  // session era
  }

  const std::string requested =
      version->is_string() ? std::string(version->get_string()) : json::serialize(*version);
  if (requested != kStatelessVersion) {
    if (std::find(kSessionVersions.begin(), kSessionVersions.end(), requested) !=
        kSessionVersions.end()) {
      if (is_stateless_only(method)) {
        return invalid_meta(std::string("Invalid params: ") + std::string(method) +
                            " exists only in protocol version " + std::string(kStatelessVersion));
      }
      return meta;  // a session-era request that merely names its version
    }
    json::object data;
    data["requested"] = requested;
    data["supported"] = supported_versions();
    return jsonrpc::RpcError{jsonrpc::kUnsupportedProtocolVersion,
                             "Unsupported protocol version: " + requested, json::value(data)};
  }

  meta.era = Era::stateless;
  const json::value* capabilities = fields->if_contains(kMetaClientCapabilities);
  if (capabilities == nullptr || !capabilities->is_object()) {
    return invalid_meta("Invalid params: _meta must carry " + std::string(kMetaClientCapabilities) +
                        " as an object");
  }
  meta.capabilities = ClientCapabilities(capabilities->get_object());
  if (const json::value* level = fields->if_contains(kMetaLogLevel)) {
    const auto parsed = level->is_string() ? parse_log_level(level->get_string()) : std::nullopt;
    if (!parsed) {
      return invalid_meta("Invalid params: " + std::string(kMetaLogLevel) +
                          " is not a logging level");
    }
    meta.log_level = parsed;
  }
  return meta;
}

}  // namespace bastion::demo::protocol
