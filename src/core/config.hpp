#pragma once
// Bastion's configuration: typed structs with safe defaults (ARCHITECTURE §5), loaded from YAML.
// Unknown keys and bad values are errors reported as "FILE:LINE: message"; secrets are never
// copied into error messages.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bastion::core {

using std::chrono::milliseconds;

struct ListenerConfig {
  std::string address;  // "host:port"; port 0 picks a free port (tests)
};

struct ListenConfig {
  ListenerConfig public_listener{"127.0.0.1:8080"};
  std::optional<ListenerConfig> admin{ListenerConfig{"127.0.0.1:8123"}};
  std::optional<std::string> admin_token_file;
};

struct LimitsConfig {
  std::uint64_t max_body_bytes = 4ull << 20;
  std::uint64_t max_header_bytes = 16ull << 10;
  std::uint32_t max_json_depth = 64;
  milliseconds header_timeout{10'000};
  milliseconds idle_timeout{60'000};
  std::uint32_t max_connections = 10'000;
  std::uint32_t max_sessions = 10'000;       // live MCP sessions held by the gateway
  milliseconds session_idle_timeout{30 * 60'000};
  std::uint32_t sse_replay_events = 256;     // events kept per stream for Last-Event-ID resumption
  milliseconds sse_keepalive{15'000};
};

struct OriginsConfig {
  // Origins accepted besides loopback ones on a loopback listener. "*" disables the check.
  std::vector<std::string> allowed;
  // Host header values accepted besides loopback names on a loopback listener; empty = any host
  // on a non-loopback listener (TLS and the Origin check protect it).
  std::vector<std::string> allowed_hosts;
};

struct FederationConfig {
  std::string separator = "__";
  enum class Prefix { automatic, always, never } prefix = Prefix::automatic;
};

struct ToolFilterConfig {
  std::vector<std::string> include;         // empty = all
  std::vector<std::string> exclude;
  std::map<std::string, std::string> rename;  // upstream name -> exposed name
  bool operator==(const ToolFilterConfig&) const = default;
};

struct UpstreamConfig {
  std::string name;
  int source_line = 0;
  // stdio
  std::string command;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::uint32_t replicas = 1;
  enum class Sessions { shared, per_client } sessions = Sessions::shared;
  // Streamable HTTP
  std::string url;
  std::optional<std::string> headers_file;  // "Name: value" lines, a secret
  std::optional<std::string> ca_file;
  // both
  milliseconds timeout{30'000};
  milliseconds start_timeout{10'000};
  ToolFilterConfig tools;
  bool is_stdio() const { return !command.empty(); }
  bool operator==(const UpstreamConfig& other) const;
};

struct LogConfig {
  std::string level = "info";
  enum class Format { json, text } format = Format::json;
};

struct Config {
  std::string source;  // file the config came from, or "<embedded>"
  std::string run_as = "nobody";
  std::string data_dir = "./bastion-data";
  milliseconds shutdown_grace{10'000};
  ListenConfig listen;
  LimitsConfig limits;
  OriginsConfig origins;
  FederationConfig federation;
  std::vector<UpstreamConfig> upstreams;
  LogConfig log;

  const UpstreamConfig* find_upstream(std::string_view name) const;
};

struct ConfigErrors {
  std::vector<std::string> messages;  // each "FILE:LINE: message"
};

// Loads and validates a YAML file. On failure returns every error found, not only the first.
struct LoadResult {
  std::optional<Config> config;
  ConfigErrors errors;
};
LoadResult load_config_file(const std::string& path);
LoadResult load_config_text(const std::string& yaml, const std::string& source_name);

// The embedded quick-start configuration: the demo agent behind 127.0.0.1:8080.
Config embedded_default_config(const std::string& demo_agent_command);

// Imports upstreams from a Claude-Desktop style {"mcpServers": {...}} JSON file into `config`.
ConfigErrors import_mcp_servers_file(const std::string& path, Config& config);

// Cross-field validation shared by the loaders (names unique, upstream has command xor url...).
void validate(const Config& config, ConfigErrors& errors);

}  // namespace bastion::core
