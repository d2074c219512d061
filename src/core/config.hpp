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

// Let's Encrypt (or any RFC 8555 CA): certificates obtained and renewed by Bastion itself.
struct AcmeConfig {
  std::string directory_url = "https://acme-v02.api.letsencrypt.org/directory";
  std::string email;
  std::vector<std::string> domains;
  std::optional<std::string> ca_file;  // extra CA to trust for the ACME server (tests: Pebble)
  milliseconds retry_min{60'000};      // first backoff after a failed issuance
  milliseconds retry_max{6 * 3600'000};
};

struct TlsConfig {
  std::string cert_file;  // full chain PEM; with acme, where the issued chain is kept
  std::string key_file;   // a secret
  bool reload = true;     // watch both files and pick up renewals without a restart
  // TLS 1.2 suites (OpenSSL names); only ECDHE with AEAD is accepted. TLS 1.3 suites separately.
  std::string ciphers =
      "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
      "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
  std::string ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
  bool prefer_server_ciphers = false;  // as the seed: clients pick (they know their hardware)
  milliseconds ticket_key_rotation{12 * 3600'000};
  std::optional<AcmeConfig> acme;
};

struct ListenConfig {
  ListenerConfig public_listener{"127.0.0.1:8080"};
  std::optional<TlsConfig> tls;                 // TLS on the public listener
  std::optional<ListenerConfig> redirect;       // plain HTTP: ACME HTTP-01 and 301 to https
  std::string redirect_webroot;                 // also serve HTTP-01 files from here (certbot --webroot)
  std::optional<ListenerConfig> admin{ListenerConfig{"127.0.0.1:8123"}};
  std::optional<std::string> admin_token_file;  // required when admin is not on loopback
  std::vector<std::string> admin_allow_cidrs;   // empty = anyone who can reach it (plus the token)
  // Client address filters for the public and redirect listeners (CIDR notation).
  std::vector<std::string> allow_cidrs;  // empty = all
  std::vector<std::string> deny_cidrs;   // checked first
  // Peers whose X-Forwarded-For / Forwarded headers are believed (load balancers).
  std::vector<std::string> trusted_proxies;
};

// Response headers added to every reply; an empty value leaves that header out.
struct SecurityHeadersConfig {
  std::string content_security_policy =
      "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'";
  std::string x_frame_options = "SAMEORIGIN";
  std::string x_content_type_options = "nosniff";
  std::string referrer_policy = "strict-origin-when-cross-origin";
  std::string hsts = "max-age=31536000; includeSubDomains";  // sent over TLS only
  std::map<std::string, std::string> extra;
};

// One limit_req zone: requests matching `match` (a path prefix) and, optionally, an MCP method
// and tool (parsed from the body, after authentication) share buckets chosen by `key`.
struct RateLimitZoneConfig {
  std::string name;
  std::string match = "/mcp";
  std::string method;  // e.g. "tools/call"; empty = any request on the path
  std::string tool;    // exact name or glob ("demo__*"); only with tools/call
  enum class Key { ip, token, tool } key = Key::ip;
  std::string rate = "10r/m";
  std::uint32_t burst = 5;
  bool nodelay = true;
  bool enforce = true;  // false = shadow mode: log and count what would be limited
  int source_line = 0;
};

struct JwtConfig {
  std::string issuer;
  std::vector<std::string> audience;  // default: the resource URI
  std::optional<std::string> jwks_file;
  std::optional<std::string> jwks_url;
  milliseconds leeway{60'000};
  std::string tools_claim = "bastion_tools";
};

struct AuthRequestConfig {
  std::string url;
  milliseconds timeout{2'000};
  milliseconds cache_ttl{5'000};
  std::string user_header = "X-Auth-User";
};

struct AuthConfig {
  std::optional<std::string> tokens_file;  // hashed bearer tokens (bastion token create)
  std::optional<JwtConfig> jwt;
  std::optional<AuthRequestConfig> auth_request;
  // OAuth 2.1 resource server (RFC 9728): this gateway's resource URI, e.g. https://mcp.example.com/mcp
  std::string resource;
  std::vector<std::string> authorization_servers;
  std::vector<std::string> scopes_supported;
  std::vector<std::string> required_scopes;  // every token must carry these
  bool enabled() const { return tokens_file || jwt || auth_request; }
};

struct StoreConfig {
  std::string url = "sqlite://./bastion-data/interactions.db";  // or postgres://user@host/db
  std::optional<std::string> password_file;
  enum class Capture { hashed, redacted, full } capture = Capture::hashed;
  std::vector<std::string> redact_paths;  // JSON pointers masked in redacted mode
  std::uint64_t max_payload_bytes = 64ull << 10;
  std::string spool_dir;                  // default: <data_dir>/spool
  std::uint64_t spool_max_bytes = 1ull << 30;
  std::uint32_t batch = 500;
  std::uint32_t queue = 100'000;          // records held in memory before spilling to the spool
  milliseconds flush_interval{200};
  // async: rows are queued and written in batches (a crash loses what is still queued).
  // sync: a reply waits until its row is committed to the store or fsynced to the spool, in
  // group commits: a batch is what queued during the previous commit, plus `group_commit`.
  enum class Durability { async, sync } durability = Durability::async;
  milliseconds group_commit{0};
  milliseconds durable_timeout{5'000};  // longest a reply waits for its row
  bool enabled = true;
};

struct RedisConfig {
  std::string url;  // redis://host:port[/db]
  std::optional<std::string> password_file;
  milliseconds timeout{50};  // budget per rate-limit check
  enum class FailMode { open, closed } fail_mode = FailMode::open;
};

struct TelemetryConfig {
  std::string otlp_endpoint;  // http(s)://collector:4318/v1/traces
  std::optional<std::string> headers_file;
  std::string service_name = "bastion";
};

struct TagsConfig {
  milliseconds fast{250}, normal{1'000}, slow{5'000};
  // A numeric contradiction score maps to a level at these lower bounds.
  double mild = 0.25, moderate = 0.5, extreme = 0.75;
  double quality_threshold = 0.7;  // successful_interactions export: minimum quality
};

// monitoring.triggers: when an upstream needs attention. A threshold of 0 switches that trigger off.
struct TriggerConfig {
  std::uint64_t memory_bytes = 1'500'000'000;  // RSS of one stdio replica's process group
  milliseconds latency{5'000};                 // p95 of the upstream's calls over `window`
  double error_rate = 0.05;                    // errors / calls over `window`
  milliseconds window{300'000};
  bool predict = true;                         // act on the forecast, before the threshold
  milliseconds horizon{300'000};               // forecast crossing within this counts
  std::uint32_t min_samples = 6;               // samples before a trend is trusted
  std::uint32_t min_calls = 20;                // calls in the window before rates are trusted
  double queue_per_replica = 4;                // in-flight calls per live replica that mean queueing
  milliseconds cooldown{120'000};              // between two actions of one kind on one upstream
  bool operator==(const TriggerConfig&) const = default;
};

// monitoring.actions: what a trigger does.
struct AlertWebhookConfig {
  std::string url;                                  // http(s) receiver
  enum class Format { alertmanager, json } format = Format::alertmanager;
  std::optional<std::string> headers_file;          // "Name: value" lines, a secret
  milliseconds repeat{60'000};                      // firing alerts are re-sent this often
  bool operator==(const AlertWebhookConfig&) const = default;
};

struct ActionsConfig {
  bool restart_service = true;            // replace the replica (new one first, old one drained)
  milliseconds drain_grace{30'000};       // in-flight calls on a replaced replica get this long
  std::uint32_t max_replicas = 0;         // scale_horizontally up to this (0: off)
  milliseconds scale_in_after{600'000};   // extra replicas idle this long are removed
  std::optional<AlertWebhookConfig> alert;
  bool operator==(const ActionsConfig&) const = default;
};

struct UpstreamMonitoring {
  TriggerConfig triggers;
  ActionsConfig actions;
  bool operator==(const UpstreamMonitoring&) const = default;
};

struct MonitoringConfig {
  milliseconds sample_interval{5'000};
  UpstreamMonitoring defaults;
  std::map<std::string, UpstreamMonitoring> per_upstream;  // monitoring.upstreams.<name>
  const UpstreamMonitoring& for_upstream(const std::string& name) const {
    auto it = per_upstream.find(name);
    return it == per_upstream.end() ? defaults : it->second;
  }
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
  std::uint32_t max_in_flight_per_client = 64;  // concurrent requests from one client address
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
  // stdio: resource limits of the agent's processes (0 = inherit).
  struct Rlimits {
    std::uint64_t address_space = 0;
    std::uint64_t cpu_seconds = 0;
    std::uint64_t open_files = 0;
    bool operator==(const Rlimits&) const = default;
  } rlimits;
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
  SecurityHeadersConfig headers;
  std::vector<RateLimitZoneConfig> rate_limits = {seed_rate_limit_zone()};
  AuthConfig auth;
  std::vector<UpstreamConfig> upstreams;
  StoreConfig store;
  std::optional<RedisConfig> redis;
  std::optional<TelemetryConfig> telemetry;
  TagsConfig tags;
  MonitoringConfig monitoring;
  LogConfig log;

  // The seed's nginx zone for /mcp: 10 requests per minute per client address, burst 5, nodelay.
  static RateLimitZoneConfig seed_rate_limit_zone() {
    RateLimitZoneConfig zone;
    zone.name = "mcp_api";
    return zone;
  }

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
