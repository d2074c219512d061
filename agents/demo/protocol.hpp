// MCP protocol eras and per-request metadata. One stdio connection carries both:
//  - the session era (2025-03-26 .. 2025-11-25): initialize handshake, state on the connection;
//  - the stateless era (2026-07-28): every request carries its own _meta, nothing is remembered.
#pragma once

#include <array>
#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "demo/json_rpc.hpp"

namespace bastion::demo::protocol {

namespace json = boost::json;

inline constexpr std::string_view kStatelessVersion = "2026-07-28";
inline constexpr std::string_view kLatestSessionVersion = "2025-11-25";
inline constexpr std::array<std::string_view, 3> kSessionVersions = {"2025-03-26", "2025-06-18",
                                                                     "2025-11-25"};

inline constexpr std::string_view kMetaProtocolVersion = "io.modelcontextprotocol/protocolVersion";
inline constexpr std::string_view kMetaClientCapabilities =
    "io.modelcontextprotocol/clientCapabilities";
inline constexpr std::string_view kMetaLogLevel = "io.modelcontextprotocol/logLevel";
inline constexpr std::string_view kMetaServerInfo = "io.modelcontextprotocol/serverInfo";
inline constexpr std::string_view kMetaSubscriptionId = "io.modelcontextprotocol/subscriptionId";
// Not part of MCP: names the request a notification belongs to, so a gateway multiplexing
// several callers over one stdio pipe can route logs and progress (bastion-specific _meta).
inline constexpr std::string_view kMetaRelatedRequest = "bastion/relatedRequestId";

inline constexpr std::string_view kServerName = "bastion-demo-agent";
inline constexpr std::string_view kServerTitle = "Bastion demo agent";
inline constexpr std::string_view kServerVersion = "0.1.0";

enum class Era { session, stateless };

enum class LogLevel { debug, info, notice, warning, error, critical, alert, emergency };

std::optional<LogLevel> parse_log_level(std::string_view text);
std::string_view to_string(LogLevel level);

// Every version the agent speaks, newest first (server/discover and -32022 both list these).
json::array supported_versions();

// initialize: the client's version when the agent speaks it, otherwise the latest session one.
std::string negotiate_session_version(const json::value* requested);

json::object server_info();

// What a client declared it can do (elicitation, sampling, roots, ...).
class ClientCapabilities {
 public:
  ClientCapabilities() = default;
  explicit ClientCapabilities(json::object declared) : declared_(std::move(declared)) {}
  bool has(std::string_view name) const;

 private:
  json::object declared_;
};

struct RequestMeta {
  Era era = Era::session;
  ClientCapabilities capabilities;    // stateless: from _meta; session: filled from initialize
  std::optional<LogLevel> log_level;  // stateless: opt-in per request
  std::optional<json::value> progress_token;
};

// Reads params._meta. An error when the request claims the stateless era but is malformed,
// names a version the agent does not speak, or is a stateless-only method without its _meta.
// Makes the agent refuse every request without 2026-07-28 _meta (initialize included).
void set_stateless_only(bool on);

std::variant<RequestMeta, jsonrpc::RpcError> read_meta(std::string_view method,
                                                       const json::object& params);

}  // namespace bastion::demo::protocol
