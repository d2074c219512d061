#include "core/config.hpp"

#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <fstream>
#include <cctype>
#include <set>
#include <sstream>

#include "core/config_reader.hpp"
#include "core/units.hpp"

namespace bastion::core {
using namespace detail;

namespace detail {

// HOST:PORT where HOST is a name, an IPv4 address or a bracketed IPv6 address.
bool valid_address(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string_view host(address.data(), colon);
  std::string_view port(address.data() + colon + 1, address.size() - colon - 1);
  if (port.empty() || port.size() > 5) return false;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
  }
  if (std::stoi(std::string(port)) > 65535) return false;
  auto allowed = [](std::string_view text, std::string_view extra) {
    for (char c : text) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && extra.find(c) == std::string_view::npos) return false;
    }
    return !text.empty();
  };
  if (host.front() == '[') {
    return host.size() > 2 && host.back() == ']' && allowed(host.substr(1, host.size() - 2), ":.");
  }
  return allowed(host, ".-");
}

}  // namespace detail

namespace {

// Upstream names: letters, digits, '_', '.', '-'; starting with a letter or digit; up to 64.
bool valid_upstream_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

void read_upstream(Reader& r, const std::string& name, const YAML::Node& node, UpstreamConfig& up) {
  const std::string path = "upstreams." + name;
  up.name = name;
  up.source_line = node.Mark().line + 1;
  if (!r.expect_map(node, path,
                    {"command", "args", "env", "replicas", "sessions", "url", "headers_file",
                     "ca_file", "timeout", "start_timeout", "tools", "rlimits"})) {
    return;
  }
  if (node["command"]) r.read(node["command"], path + ".command", up.command);
  if (node["args"]) r.read_list(node["args"], path + ".args", up.args);
  if (node["env"]) r.read_string_map(node["env"], path + ".env", up.env);
  if (node["replicas"]) r.read_int<std::uint32_t>(node["replicas"], path + ".replicas", up.replicas, 1, 64);
  if (node["sessions"]) {
    std::string mode;
    r.read(node["sessions"], path + ".sessions", mode);
    if (mode == "shared") up.sessions = UpstreamConfig::Sessions::shared;
    else if (mode == "per-client") up.sessions = UpstreamConfig::Sessions::per_client;
    else r.error(node["sessions"], path + ".sessions: expected shared or per-client, got '" + mode + "'");
  }
  if (node["url"]) r.read(node["url"], path + ".url", up.url);
  if (node["headers_file"]) {
    std::string f;
    r.read(node["headers_file"], path + ".headers_file", f);
    up.headers_file = f;
  }
  if (node["ca_file"]) {
    std::string f;
    r.read(node["ca_file"], path + ".ca_file", f);
    up.ca_file = f;
  }
  if (node["timeout"]) r.read_duration(node["timeout"], path + ".timeout", up.timeout);
  if (node["start_timeout"]) r.read_duration(node["start_timeout"], path + ".start_timeout", up.start_timeout);
  if (auto tools = node["tools"]) {
    if (r.expect_map(tools, path + ".tools", {"include", "exclude", "rename"})) {
      if (tools["include"]) r.read_list(tools["include"], path + ".tools.include", up.tools.include);
      if (tools["exclude"]) r.read_list(tools["exclude"], path + ".tools.exclude", up.tools.exclude);
      if (tools["rename"]) r.read_string_map(tools["rename"], path + ".tools.rename", up.tools.rename);
    }
  }
  if (node["rlimits"]) read_rlimits(r, node["rlimits"], path + ".rlimits", up.rlimits);
  if (up.command.empty() == up.url.empty()) {
    r.error(node, path + ": set exactly one of 'command' (stdio) or 'url' (Streamable HTTP)");
  }
  if (!up.url.empty() && up.url.rfind("http://", 0) != 0 && up.url.rfind("https://", 0) != 0) {
    r.error(node["url"], path + ".url: expected an http:// or https:// URL");
  }
}

void read_root(Reader& r, const YAML::Node& root, Config& c) {
  if (root.IsNull()) return;  // an empty file means all defaults
  if (!r.expect_map(root, "",
                    {"run_as", "data_dir", "shutdown_grace", "listen", "limits", "origins",
                     "federation", "headers", "rate_limits", "auth", "upstreams", "store", "redis",
                     "telemetry", "tags", "monitoring", "log"})) {
    return;
  }
  if (root["run_as"]) r.read(root["run_as"], "run_as", c.run_as);
  if (root["data_dir"]) r.read(root["data_dir"], "data_dir", c.data_dir);
  if (root["shutdown_grace"]) r.read_duration(root["shutdown_grace"], "shutdown_grace", c.shutdown_grace);

  if (auto listen = root["listen"]) read_listen(r, listen, c);
  if (auto limits = root["limits"]) {
    auto& l = c.limits;
    if (r.expect_map(limits, "limits",
                     {"max_body_bytes", "max_header_bytes", "max_json_depth", "header_timeout",
                      "idle_timeout", "max_connections", "max_sessions", "session_idle_timeout",
                      "sse_replay_events", "sse_keepalive", "max_in_flight_per_client"})) {
      if (limits["max_body_bytes"]) r.read_size(limits["max_body_bytes"], "limits.max_body_bytes", l.max_body_bytes);
      if (limits["max_header_bytes"]) r.read_size(limits["max_header_bytes"], "limits.max_header_bytes", l.max_header_bytes);
      if (limits["max_json_depth"]) r.read_int<std::uint32_t>(limits["max_json_depth"], "limits.max_json_depth", l.max_json_depth, 2, 10'000);
      if (limits["header_timeout"]) r.read_duration(limits["header_timeout"], "limits.header_timeout", l.header_timeout);
      if (limits["idle_timeout"]) r.read_duration(limits["idle_timeout"], "limits.idle_timeout", l.idle_timeout);
      if (limits["max_connections"]) r.read_int<std::uint32_t>(limits["max_connections"], "limits.max_connections", l.max_connections, 1, 1'000'000);
      if (limits["max_sessions"]) r.read_int<std::uint32_t>(limits["max_sessions"], "limits.max_sessions", l.max_sessions, 1, 1'000'000);
      if (limits["session_idle_timeout"]) r.read_duration(limits["session_idle_timeout"], "limits.session_idle_timeout", l.session_idle_timeout);
      if (limits["sse_replay_events"]) r.read_int<std::uint32_t>(limits["sse_replay_events"], "limits.sse_replay_events", l.sse_replay_events, 0, 100'000);
      if (limits["sse_keepalive"]) r.read_duration(limits["sse_keepalive"], "limits.sse_keepalive", l.sse_keepalive);
      if (limits["max_in_flight_per_client"]) {
        r.read_int<std::uint32_t>(limits["max_in_flight_per_client"], "limits.max_in_flight_per_client",
                                  l.max_in_flight_per_client, 1, 1'000'000);
      }
      if (l.max_body_bytes == 0) r.error(limits["max_body_bytes"], "limits.max_body_bytes: must be > 0");
    }
  }
  if (auto origins = root["origins"]) {
    if (r.expect_map(origins, "origins", {"allowed", "allowed_hosts"})) {
      if (origins["allowed"]) r.read_list(origins["allowed"], "origins.allowed", c.origins.allowed);
      if (origins["allowed_hosts"]) r.read_list(origins["allowed_hosts"], "origins.allowed_hosts", c.origins.allowed_hosts);
    }
  }
  if (auto fed = root["federation"]) {
    if (r.expect_map(fed, "federation", {"separator", "prefix"})) {
      if (fed["separator"]) {
        r.read(fed["separator"], "federation.separator", c.federation.separator);
        if (c.federation.separator.empty()) r.error(fed["separator"], "federation.separator: must not be empty");
      }
      if (fed["prefix"]) {
        std::string p;
        r.read(fed["prefix"], "federation.prefix", p);
        if (p == "auto") c.federation.prefix = FederationConfig::Prefix::automatic;
        else if (p == "always") c.federation.prefix = FederationConfig::Prefix::always;
        else if (p == "never") c.federation.prefix = FederationConfig::Prefix::never;
        else r.error(fed["prefix"], "federation.prefix: expected auto, always or never, got '" + p + "'");
      }
    }
  }
  if (auto headers = root["headers"]) read_headers(r, headers, c.headers);
  if (auto zones = root["rate_limits"]) read_rate_limits(r, zones, c.rate_limits);
  if (auto auth = root["auth"]) read_auth(r, auth, c.auth);
  if (auto store = root["store"]) read_store(r, store, c.store);
  if (auto redis = root["redis"]) read_redis(r, redis, c.redis);
  if (auto telemetry = root["telemetry"]) read_telemetry(r, telemetry, c.telemetry);
  if (auto tags = root["tags"]) read_tags(r, tags, c.tags);
  if (auto ups = root["upstreams"]) {
    if (!ups.IsMap()) {
      r.error(ups, "upstreams: expected a mapping of name to upstream");
    } else {
      for (const auto& kv : ups) {
        auto name = kv.first.Scalar();
        if (!valid_upstream_name(name)) {
          r.error(kv.first, "upstreams." + name + ": names use letters, digits, '_', '.', '-' (max 64)");
        }
        UpstreamConfig up;
        read_upstream(r, name, kv.second, up);
        c.upstreams.push_back(std::move(up));
      }
    }
  }
  if (auto monitoring = root["monitoring"]) {
    read_monitoring(r, monitoring, c.monitoring);
    for (const auto& [name, m] : c.monitoring.per_upstream) {
      if (!c.find_upstream(name)) r.error(monitoring, "monitoring.upstreams." + name + ": no such upstream");
    }
  }
  if (auto log = root["log"]) {
    if (r.expect_map(log, "log", {"level", "format"})) {
      if (log["level"]) {
        r.read(log["level"], "log.level", c.log.level);
        static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "critical", "off"};
        if (!levels.count(c.log.level)) r.error(log["level"], "log.level: unknown level '" + c.log.level + "'");
      }
      if (log["format"]) {
        std::string f;
        r.read(log["format"], "log.format", f);
        if (f == "json") c.log.format = LogConfig::Format::json;
        else if (f == "text") c.log.format = LogConfig::Format::text;
        else r.error(log["format"], "log.format: expected json or text");
      }
    }
  }
}

LoadResult load_from_node_text(const std::string& text, const std::string& source) {
  LoadResult result;
  Config config;
  config.source = source;
  try {
    YAML::Node root = YAML::Load(text);
    Reader reader(source, result.errors);
    read_root(reader, root, config);
  } catch (const YAML::Exception& e) {
    result.errors.messages.push_back(source + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    return result;
  }
  validate(config, result.errors);
  if (result.errors.messages.empty()) result.config = std::move(config);
  return result;
}

}  // namespace

bool UpstreamConfig::operator==(const UpstreamConfig& o) const {
  // source_line is where it was written, not what it is.
  return name == o.name && command == o.command && args == o.args && env == o.env &&
         replicas == o.replicas && sessions == o.sessions && url == o.url &&
         headers_file == o.headers_file && ca_file == o.ca_file && timeout == o.timeout &&
         start_timeout == o.start_timeout && tools == o.tools && rlimits == o.rlimits;
}

const UpstreamConfig* Config::find_upstream(std::string_view name) const {
  for (const auto& u : upstreams) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

void validate(const Config& config, ConfigErrors& errors) {
  std::set<std::string> names;
  for (const auto& u : config.upstreams) {
    if (!names.insert(u.name).second) {
      errors.messages.push_back(config.source + ":" + std::to_string(u.source_line) +
                                ": upstreams." + u.name + ": defined twice");
    }
    if (u.name.find(config.federation.separator) != std::string::npos) {
      errors.messages.push_back(config.source + ":" + std::to_string(u.source_line) + ": upstreams." +
                                u.name + ": name contains the federation separator '" +
                                config.federation.separator + "'");
    }
  }
  if (config.listen.admin && !config.listen.admin_token_file) {
    const auto& a = config.listen.admin->address;
    auto host = a.substr(0, a.rfind(':'));
    const bool loopback = host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
    if (!loopback) {
      errors.messages.push_back(config.source + ":0: listen.admin.token_file: required when the admin listener (" +
                                a + ") is not on loopback");
    }
  }
  const auto& pub = config.listen.public_listener.address;
  const bool ephemeral = pub.size() > 2 && pub.substr(pub.size() - 2) == ":0";
  if (config.listen.admin && !ephemeral && config.listen.admin->address == pub) {
    errors.messages.push_back(config.source + ":0: listen.admin.address: same as listen.public.address");
  }
}

LoadResult load_config_text(const std::string& yaml, const std::string& source_name) {
  return load_from_node_text(yaml, source_name);
}

LoadResult load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    LoadResult r;
    r.errors.messages.push_back(path + ":0: cannot read the file");
    return r;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return load_from_node_text(buffer.str(), path);
}

Config embedded_default_config(const std::string& demo_agent_command) {
  Config c;
  c.source = "<embedded>";
  UpstreamConfig demo;
  demo.name = "demo";
  demo.command = demo_agent_command;
  c.upstreams.push_back(std::move(demo));
  return c;
}

ConfigErrors import_mcp_servers_file(const std::string& path, Config& config) {
  ConfigErrors errors;
  std::ifstream in(path);
  if (!in) {
    errors.messages.push_back(path + ":0: cannot read the file");
    return errors;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  boost::system::error_code ec;
  auto doc = boost::json::parse(buffer.str(), ec);
  if (ec || !doc.is_object() || !doc.as_object().contains("mcpServers") ||
      !doc.at("mcpServers").is_object()) {
    errors.messages.push_back(path + ":0: expected a JSON object with an \"mcpServers\" object");
    return errors;
  }
  for (const auto& [key, value] : doc.at("mcpServers").as_object()) {
    UpstreamConfig up;
    up.name = std::string(key);
    const auto* obj = value.if_object();
    if (!obj) {
      errors.messages.push_back(path + ":0: mcpServers." + up.name + ": expected an object");
      continue;
    }
    if (auto* cmd = obj->if_contains("command"); cmd && cmd->is_string()) up.command = cmd->as_string();
    if (auto* url = obj->if_contains("url"); url && url->is_string()) up.url = url->as_string();
    if (auto* args = obj->if_contains("args"); args && args->is_array()) {
      for (const auto& a : args->as_array()) {
        if (a.is_string()) up.args.emplace_back(a.as_string());
      }
    }
    if (auto* env = obj->if_contains("env"); env && env->is_object()) {
      for (const auto& [k, v] : env->as_object()) {
        if (v.is_string()) up.env[std::string(k)] = v.as_string();
      }
    }
    if (up.command.empty() == up.url.empty()) {
      errors.messages.push_back(path + ":0: mcpServers." + up.name + ": needs exactly one of command or url");
      continue;
    }
    if (config.find_upstream(up.name)) {
      errors.messages.push_back(path + ":0: mcpServers." + up.name + ": an upstream with this name already exists");
      continue;
    }
    config.upstreams.push_back(std::move(up));
  }
  return errors;
}

}  // namespace bastion::core
