// Readers of the security, storage and telemetry sections of the configuration.
#include <set>

#include "core/cidr.hpp"
#include "core/config_reader.hpp"

namespace bastion::core::detail {
namespace {

void read_optional_path(Reader& r, const YAML::Node& node, const std::string& path,
                        std::optional<std::string>& out) {
  std::string value;
  r.read(node, path, value);
  if (value.empty()) r.error(node, path + ": must not be empty");
  else out = value;
}

void read_cidrs(Reader& r, const YAML::Node& node, const std::string& path, std::vector<std::string>& out) {
  r.read_list(node, path, out);
  for (const auto& entry : out) {
    if (!Cidr::parse(entry)) r.error(node, path + ": '" + entry + "' is not an address or CIDR network");
  }
}

bool has_scheme(const std::string& url, std::initializer_list<std::string_view> schemes) {
  for (auto s : schemes) {
    if (url.rfind(std::string(s) + "://", 0) == 0) return true;
  }
  return false;
}

// user:password@ in a URL would put a secret into the config file, argv of tools and logs.
bool url_has_password(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return false;
  auto at = url.find('@', scheme + 3);
  auto slash = url.find('/', scheme + 3);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return false;
  return url.substr(scheme + 3, at - scheme - 3).find(':') != std::string::npos;
}

void read_fraction(Reader& r, const YAML::Node& node, const std::string& path, double& out) {
  auto v = r.string(node, path);
  if (!v) return;
  if (auto f = parse_ratio(*v)) out = *f;
  else r.error(node, path + ": expected a number between 0 and 1 (or a percentage), got '" + *v + "'");
}

bool header_safe(const std::string& value) {
  return value.find_first_of("\r\n") == std::string::npos && value.find('\0') == std::string::npos;
}

void read_acme(Reader& r, const YAML::Node& node, AcmeConfig& a) {
  const std::string path = "listen.public.tls.acme";
  if (!r.expect_map(node, path, {"directory_url", "email", "domains", "ca_file", "retry_min", "retry_max"})) return;
  if (node["directory_url"]) r.read(node["directory_url"], path + ".directory_url", a.directory_url);
  if (node["email"]) r.read(node["email"], path + ".email", a.email);
  if (node["domains"]) r.read_list(node["domains"], path + ".domains", a.domains);
  if (node["ca_file"]) read_optional_path(r, node["ca_file"], path + ".ca_file", a.ca_file);
  if (node["retry_min"]) r.read_duration(node["retry_min"], path + ".retry_min", a.retry_min);
  if (node["retry_max"]) r.read_duration(node["retry_max"], path + ".retry_max", a.retry_max);
  if (a.domains.empty()) r.error(node, path + ".domains: at least one domain is required");
  if (!has_scheme(a.directory_url, {"https"})) r.error(node, path + ".directory_url: expected an https:// URL");
}

void read_tls(Reader& r, const YAML::Node& node, TlsConfig& t) {
  const std::string path = "listen.public.tls";
  if (!r.expect_map(node, path,
                    {"cert_file", "key_file", "reload", "ciphers", "ciphersuites", "prefer_server_ciphers",
                     "ticket_key_rotation", "acme"})) {
    return;
  }
  if (node["cert_file"]) r.read(node["cert_file"], path + ".cert_file", t.cert_file);
  if (node["key_file"]) r.read(node["key_file"], path + ".key_file", t.key_file);
  if (node["reload"]) r.read(node["reload"], path + ".reload", t.reload);
  if (node["ciphers"]) r.read(node["ciphers"], path + ".ciphers", t.ciphers);
  if (node["ciphersuites"]) r.read(node["ciphersuites"], path + ".ciphersuites", t.ciphersuites);
  if (node["prefer_server_ciphers"]) r.read(node["prefer_server_ciphers"], path + ".prefer_server_ciphers", t.prefer_server_ciphers);
  if (node["ticket_key_rotation"]) r.read_duration(node["ticket_key_rotation"], path + ".ticket_key_rotation", t.ticket_key_rotation);
  if (node["acme"]) {
    t.acme.emplace();
    read_acme(r, node["acme"], *t.acme);
  }
  if (!t.acme && (t.cert_file.empty() || t.key_file.empty())) {
    r.error(node, path + ": set cert_file and key_file, or acme to obtain them automatically");
  }
}

}  // namespace

void read_listen(Reader& r, const YAML::Node& listen, Config& c) {
  if (!r.expect_map(listen, "listen",
                    {"public", "redirect", "admin", "allow_cidrs", "deny_cidrs", "trusted_proxies"})) {
    return;
  }
  auto read_address = [&r](const YAML::Node& node, const std::string& path, ListenerConfig& out) {
    r.read(node, path, out.address);
    if (!valid_address(out.address)) r.error(node, path + ": expected HOST:PORT, got '" + out.address + "'");
  };
  if (auto pub = listen["public"]) {
    if (r.expect_map(pub, "listen.public", {"address", "tls"})) {
      if (pub["address"]) read_address(pub["address"], "listen.public.address", c.listen.public_listener);
      if (pub["tls"]) {
        c.listen.tls.emplace();
        read_tls(r, pub["tls"], *c.listen.tls);
      }
    }
  }
  if (auto redirect = listen["redirect"]) {
    if (r.expect_map(redirect, "listen.redirect", {"address", "webroot"})) {
      c.listen.redirect = ListenerConfig{"0.0.0.0:80"};
      if (redirect["address"]) read_address(redirect["address"], "listen.redirect.address", *c.listen.redirect);
      if (redirect["webroot"]) r.read(redirect["webroot"], "listen.redirect.webroot", c.listen.redirect_webroot);
    }
  }
  if (auto admin = listen["admin"]) {
    if (admin.IsNull() || (admin.IsScalar() && admin.Scalar() == "off")) {
      c.listen.admin.reset();
    } else if (r.expect_map(admin, "listen.admin", {"address", "token_file", "allow_cidrs"})) {
      c.listen.admin = ListenerConfig{"127.0.0.1:8123"};
      if (admin["address"]) read_address(admin["address"], "listen.admin.address", *c.listen.admin);
      if (admin["token_file"]) read_optional_path(r, admin["token_file"], "listen.admin.token_file", c.listen.admin_token_file);
      if (admin["allow_cidrs"]) read_cidrs(r, admin["allow_cidrs"], "listen.admin.allow_cidrs", c.listen.admin_allow_cidrs);
    }
  }
  if (listen["allow_cidrs"]) read_cidrs(r, listen["allow_cidrs"], "listen.allow_cidrs", c.listen.allow_cidrs);
  if (listen["deny_cidrs"]) read_cidrs(r, listen["deny_cidrs"], "listen.deny_cidrs", c.listen.deny_cidrs);
  if (listen["trusted_proxies"]) read_cidrs(r, listen["trusted_proxies"], "listen.trusted_proxies", c.listen.trusted_proxies);
  if (c.listen.tls && c.listen.tls->acme && !c.listen.redirect) {
    r.error(listen, "listen.redirect: ACME HTTP-01 needs the plain HTTP listener (e.g. address 0.0.0.0:80)");
  }
}

void read_headers(Reader& r, const YAML::Node& node, SecurityHeadersConfig& h) {
  if (!r.expect_map(node, "headers",
                    {"content_security_policy", "x_frame_options", "x_content_type_options", "referrer_policy",
                     "hsts", "extra"})) {
    return;
  }
  auto read = [&](const char* key, std::string& out) {
    if (!node[key]) return;
    // `null` or "" switches the header off.
    if (node[key].IsNull()) out.clear();
    else r.read(node[key], std::string("headers.") + key, out);
    if (!header_safe(out)) r.error(node[key], std::string("headers.") + key + ": must not contain line breaks");
  };
  read("content_security_policy", h.content_security_policy);
  read("x_frame_options", h.x_frame_options);
  read("x_content_type_options", h.x_content_type_options);
  read("referrer_policy", h.referrer_policy);
  read("hsts", h.hsts);
  if (node["extra"]) {
    r.read_string_map(node["extra"], "headers.extra", h.extra);
    for (const auto& [name, value] : h.extra) {
      bool token = !name.empty();
      for (char ch : name) token = token && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-');
      if (!token || !header_safe(value)) r.error(node["extra"], "headers.extra." + name + ": invalid header");
    }
  }
}

void read_rate_limits(Reader& r, const YAML::Node& node, std::vector<RateLimitZoneConfig>& out) {
  out.clear();  // an explicit list replaces the default zone; [] turns rate limiting off
  if (!node.IsSequence()) {
    r.error(node, "rate_limits: expected a list of zones");
    return;
  }
  std::set<std::string> names;
  for (const auto& z : node) {
    RateLimitZoneConfig zone;
    zone.source_line = z.Mark().line + 1;
    zone.name.clear();
    if (!r.expect_map(z, "rate_limits[]",
                      {"name", "match", "method", "tool", "key", "rate", "burst", "nodelay", "enforce"})) {
      continue;
    }
    if (z["name"]) r.read(z["name"], "rate_limits[].name", zone.name);
    const std::string path = "rate_limits." + (zone.name.empty() ? std::string("?") : zone.name);
    bool name_ok = !zone.name.empty() && zone.name.size() <= 64;
    for (char ch : zone.name) name_ok = name_ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-');
    if (!name_ok) r.error(z, path + ".name: required; letters, digits, '_' and '-' (max 64)");
    else if (!names.insert(zone.name).second) r.error(z, path + ": defined twice");
    if (z["match"]) r.read(z["match"], path + ".match", zone.match);
    if (zone.match.empty() || zone.match.front() != '/') r.error(z, path + ".match: expected a path starting with /");
    if (z["method"]) r.read(z["method"], path + ".method", zone.method);
    if (z["tool"]) {
      r.read(z["tool"], path + ".tool", zone.tool);
      if (zone.method.empty()) zone.method = "tools/call";
      if (zone.method != "tools/call") r.error(z["tool"], path + ".tool: only applies to method tools/call");
    }
    if (z["key"]) {
      std::string key;
      r.read(z["key"], path + ".key", key);
      if (key == "ip") zone.key = RateLimitZoneConfig::Key::ip;
      else if (key == "token") zone.key = RateLimitZoneConfig::Key::token;
      else if (key == "tool") zone.key = RateLimitZoneConfig::Key::tool;
      else r.error(z["key"], path + ".key: expected ip, token or tool, got '" + key + "'");
    }
    if (zone.key == RateLimitZoneConfig::Key::tool && zone.method != "tools/call") {
      r.error(z, path + ".key: 'tool' needs method tools/call (or a tool pattern)");
    }
    if (z["rate"]) {
      r.read(z["rate"], path + ".rate", zone.rate);
      if (!parse_request_rate(zone.rate)) r.error(z["rate"], path + ".rate: expected e.g. 10r/s or 10r/m, got '" + zone.rate + "'");
    }
    if (z["burst"]) r.read_int<std::uint32_t>(z["burst"], path + ".burst", zone.burst, 0, 1'000'000);
    if (z["nodelay"]) r.read(z["nodelay"], path + ".nodelay", zone.nodelay);
    if (z["enforce"]) r.read(z["enforce"], path + ".enforce", zone.enforce);
    out.push_back(std::move(zone));
  }
}

void read_auth(Reader& r, const YAML::Node& node, AuthConfig& a) {
  if (!r.expect_map(node, "auth",
                    {"tokens_file", "jwt", "auth_request", "resource", "authorization_servers", "scopes_supported",
                     "required_scopes"})) {
    return;
  }
  if (node["tokens_file"]) read_optional_path(r, node["tokens_file"], "auth.tokens_file", a.tokens_file);
  if (node["resource"]) r.read(node["resource"], "auth.resource", a.resource);
  if (node["authorization_servers"]) r.read_list(node["authorization_servers"], "auth.authorization_servers", a.authorization_servers);
  if (node["scopes_supported"]) r.read_list(node["scopes_supported"], "auth.scopes_supported", a.scopes_supported);
  if (node["required_scopes"]) r.read_list(node["required_scopes"], "auth.required_scopes", a.required_scopes);
  if (auto jwt = node["jwt"]) {
    a.jwt.emplace();
    auto& j = *a.jwt;
    if (r.expect_map(jwt, "auth.jwt", {"issuer", "audience", "jwks_file", "jwks_url", "leeway", "tools_claim"})) {
      if (jwt["issuer"]) r.read(jwt["issuer"], "auth.jwt.issuer", j.issuer);
      if (auto aud = jwt["audience"]) {
        if (aud.IsSequence()) r.read_list(aud, "auth.jwt.audience", j.audience);
        else if (auto v = r.string(aud, "auth.jwt.audience")) j.audience = {*v};
      }
      if (jwt["jwks_file"]) read_optional_path(r, jwt["jwks_file"], "auth.jwt.jwks_file", j.jwks_file);
      if (jwt["jwks_url"]) {
        read_optional_path(r, jwt["jwks_url"], "auth.jwt.jwks_url", j.jwks_url);
        if (j.jwks_url && !has_scheme(*j.jwks_url, {"https", "http"})) r.error(jwt["jwks_url"], "auth.jwt.jwks_url: expected an http(s) URL");
      }
      if (jwt["leeway"]) r.read_duration(jwt["leeway"], "auth.jwt.leeway", j.leeway);
      if (jwt["tools_claim"]) r.read(jwt["tools_claim"], "auth.jwt.tools_claim", j.tools_claim);
      if (j.issuer.empty()) r.error(jwt, "auth.jwt.issuer: required");
      if (j.jwks_file.has_value() == j.jwks_url.has_value()) r.error(jwt, "auth.jwt: set exactly one of jwks_file or jwks_url");
      if (a.resource.empty()) r.error(jwt, "auth.resource: required with jwt (this gateway's resource URI, the token audience)");
      if (j.audience.empty() && !a.resource.empty()) j.audience = {a.resource};
    }
  }
  if (auto ar = node["auth_request"]) {
    a.auth_request.emplace();
    auto& q = *a.auth_request;
    if (r.expect_map(ar, "auth.auth_request", {"url", "timeout", "cache_ttl", "user_header"})) {
      if (ar["url"]) r.read(ar["url"], "auth.auth_request.url", q.url);
      if (!has_scheme(q.url, {"http", "https"})) r.error(ar, "auth.auth_request.url: expected an http(s) URL");
      if (ar["timeout"]) r.read_duration(ar["timeout"], "auth.auth_request.timeout", q.timeout);
      if (ar["cache_ttl"]) r.read_duration(ar["cache_ttl"], "auth.auth_request.cache_ttl", q.cache_ttl);
      if (ar["user_header"]) r.read(ar["user_header"], "auth.auth_request.user_header", q.user_header);
    }
  }
  if (!a.resource.empty() && !has_scheme(a.resource, {"https", "http"})) {
    r.error(node["resource"], "auth.resource: expected an absolute URL such as https://mcp.example.com/mcp");
  }
}

void read_store(Reader& r, const YAML::Node& node, StoreConfig& s) {
  if (node.IsScalar() && node.Scalar() == "off") {
    s.enabled = false;
    return;
  }
  if (!r.expect_map(node, "store",
                    {"url", "password_file", "capture", "redact_paths", "max_payload_bytes", "spool_dir",
                     "spool_max_bytes", "batch", "queue", "flush_interval", "durability", "group_commit",
                     "durable_timeout"})) {
    return;
  }
  if (node["url"]) {
    r.read(node["url"], "store.url", s.url);
    if (!has_scheme(s.url, {"sqlite", "postgres", "postgresql"})) {
      r.error(node["url"], "store.url: expected sqlite://PATH or postgres://USER@HOST:PORT/DB");
    } else if (url_has_password(s.url)) {
      r.error(node["url"], "store.url: must not contain a password; use store.password_file");
    }
  }
  if (node["password_file"]) read_optional_path(r, node["password_file"], "store.password_file", s.password_file);
  if (node["durability"]) {
    std::string d;
    r.read(node["durability"], "store.durability", d);
    if (d == "async") s.durability = StoreConfig::Durability::async;
    else if (d == "sync") s.durability = StoreConfig::Durability::sync;
    else r.error(node["durability"], "store.durability: expected async or sync, got '" + d + "'");
  }
  if (node["group_commit"]) r.read_duration(node["group_commit"], "store.group_commit", s.group_commit);
  if (node["durable_timeout"]) r.read_duration(node["durable_timeout"], "store.durable_timeout", s.durable_timeout);
  if (node["capture"]) {
    std::string mode;
    r.read(node["capture"], "store.capture", mode);
    if (mode == "hashed") s.capture = StoreConfig::Capture::hashed;
    else if (mode == "redacted") s.capture = StoreConfig::Capture::redacted;
    else if (mode == "full") s.capture = StoreConfig::Capture::full;
    else r.error(node["capture"], "store.capture: expected hashed, redacted or full");
  }
  if (node["redact_paths"]) {
    r.read_list(node["redact_paths"], "store.redact_paths", s.redact_paths);
    for (const auto& p : s.redact_paths) {
      if (p.empty() || p.front() != '/') r.error(node["redact_paths"], "store.redact_paths: '" + p + "' is not a JSON pointer (/a/b)");
    }
  }
  if (node["max_payload_bytes"]) r.read_size(node["max_payload_bytes"], "store.max_payload_bytes", s.max_payload_bytes);
  if (node["spool_dir"]) r.read(node["spool_dir"], "store.spool_dir", s.spool_dir);
  if (node["spool_max_bytes"]) r.read_size(node["spool_max_bytes"], "store.spool_max_bytes", s.spool_max_bytes);
  if (node["batch"]) r.read_int<std::uint32_t>(node["batch"], "store.batch", s.batch, 1, 100'000);
  if (node["queue"]) r.read_int<std::uint32_t>(node["queue"], "store.queue", s.queue, 1, 10'000'000);
  if (node["flush_interval"]) r.read_duration(node["flush_interval"], "store.flush_interval", s.flush_interval);
}

void read_redis(Reader& r, const YAML::Node& node, std::optional<RedisConfig>& out) {
  out.emplace();
  auto& c = *out;
  if (!r.expect_map(node, "redis", {"url", "password_file", "timeout", "fail_mode"})) return;
  if (node["url"]) r.read(node["url"], "redis.url", c.url);
  if (!has_scheme(c.url, {"redis"})) r.error(node, "redis.url: expected redis://HOST:PORT[/DB]");
  else if (url_has_password(c.url)) r.error(node["url"], "redis.url: must not contain a password; use redis.password_file");
  if (node["password_file"]) read_optional_path(r, node["password_file"], "redis.password_file", c.password_file);
  if (node["timeout"]) r.read_duration(node["timeout"], "redis.timeout", c.timeout);
  if (node["fail_mode"]) {
    std::string mode;
    r.read(node["fail_mode"], "redis.fail_mode", mode);
    if (mode == "open") c.fail_mode = RedisConfig::FailMode::open;
    else if (mode == "closed") c.fail_mode = RedisConfig::FailMode::closed;
    else r.error(node["fail_mode"], "redis.fail_mode: expected open or closed");
  }
}

void read_telemetry(Reader& r, const YAML::Node& node, std::optional<TelemetryConfig>& out) {
  out.emplace();
  auto& t = *out;
  if (!r.expect_map(node, "telemetry", {"otlp_endpoint", "headers_file", "service_name"})) return;
  if (node["otlp_endpoint"]) r.read(node["otlp_endpoint"], "telemetry.otlp_endpoint", t.otlp_endpoint);
  if (!has_scheme(t.otlp_endpoint, {"http", "https"})) r.error(node, "telemetry.otlp_endpoint: expected an http(s) URL");
  if (node["headers_file"]) read_optional_path(r, node["headers_file"], "telemetry.headers_file", t.headers_file);
  if (node["service_name"]) r.read(node["service_name"], "telemetry.service_name", t.service_name);
}

void read_tags(Reader& r, const YAML::Node& node, TagsConfig& t) {
  if (!r.expect_map(node, "tags", {"latency_buckets", "contradiction_thresholds", "quality_threshold"})) return;
  if (auto b = node["latency_buckets"]) {
    if (r.expect_map(b, "tags.latency_buckets", {"fast", "normal", "slow"})) {
      if (b["fast"]) r.read_duration(b["fast"], "tags.latency_buckets.fast", t.fast);
      if (b["normal"]) r.read_duration(b["normal"], "tags.latency_buckets.normal", t.normal);
      if (b["slow"]) r.read_duration(b["slow"], "tags.latency_buckets.slow", t.slow);
      if (!(t.fast < t.normal && t.normal < t.slow)) r.error(b, "tags.latency_buckets: need fast < normal < slow");
    }
  }
  if (auto c = node["contradiction_thresholds"]) {
    if (r.expect_map(c, "tags.contradiction_thresholds", {"mild", "moderate", "extreme"})) {
      if (c["mild"]) read_fraction(r, c["mild"], "tags.contradiction_thresholds.mild", t.mild);
      if (c["moderate"]) read_fraction(r, c["moderate"], "tags.contradiction_thresholds.moderate", t.moderate);
      if (c["extreme"]) read_fraction(r, c["extreme"], "tags.contradiction_thresholds.extreme", t.extreme);
      if (!(t.mild < t.moderate && t.moderate < t.extreme)) r.error(c, "tags.contradiction_thresholds: need mild < moderate < extreme");
    }
  }
  if (node["quality_threshold"]) read_fraction(r, node["quality_threshold"], "tags.quality_threshold", t.quality_threshold);
}

void read_rlimits(Reader& r, const YAML::Node& node, const std::string& path, UpstreamConfig::Rlimits& out) {
  if (!r.expect_map(node, path, {"address_space", "cpu_seconds", "open_files"})) return;
  if (node["address_space"]) r.read_size(node["address_space"], path + ".address_space", out.address_space);
  if (node["cpu_seconds"]) r.read_int<std::uint64_t>(node["cpu_seconds"], path + ".cpu_seconds", out.cpu_seconds, 1, 1ull << 40);
  if (node["open_files"]) r.read_int<std::uint64_t>(node["open_files"], path + ".open_files", out.open_files, 16, 1ull << 20);
}

namespace {

void read_triggers(Reader& r, const YAML::Node& node, const std::string& path, TriggerConfig& t) {
  if (!r.expect_map(node, path, {"memory", "latency", "error_rate", "window", "predict", "horizon", "min_samples",
                                 "min_calls", "queue_per_replica", "cooldown"})) {
    return;
  }
  if (node["memory"]) r.read_size(node["memory"], path + ".memory", t.memory_bytes);
  if (node["latency"]) r.read_duration(node["latency"], path + ".latency", t.latency);
  if (node["error_rate"]) read_fraction(r, node["error_rate"], path + ".error_rate", t.error_rate);
  if (node["window"]) r.read_duration(node["window"], path + ".window", t.window);
  if (node["predict"]) r.read(node["predict"], path + ".predict", t.predict);
  if (node["horizon"]) r.read_duration(node["horizon"], path + ".horizon", t.horizon);
  if (node["min_samples"]) r.read_int<std::uint32_t>(node["min_samples"], path + ".min_samples", t.min_samples, 3, 10'000);
  if (node["min_calls"]) r.read_int<std::uint32_t>(node["min_calls"], path + ".min_calls", t.min_calls, 1, 1'000'000);
  if (node["queue_per_replica"]) {
    std::uint32_t q = 4;
    r.read_int<std::uint32_t>(node["queue_per_replica"], path + ".queue_per_replica", q, 1, 100'000);
    t.queue_per_replica = q;
  }
  if (node["cooldown"]) r.read_duration(node["cooldown"], path + ".cooldown", t.cooldown);
  // The live windows keep one hour at most.
  if (t.window < std::chrono::seconds(1) || t.window > std::chrono::hours(1)) {
    r.error(node, path + ".window: must lie between 1s and 1h");
  }
}

void read_actions(Reader& r, const YAML::Node& node, const std::string& path, ActionsConfig& a) {
  if (!r.expect_map(node, path, {"restart_service", "drain_grace", "scale_horizontally", "alert_admin"})) return;
  if (node["restart_service"]) r.read(node["restart_service"], path + ".restart_service", a.restart_service);
  if (node["drain_grace"]) r.read_duration(node["drain_grace"], path + ".drain_grace", a.drain_grace);
  if (auto s = node["scale_horizontally"]) {
    if (s.IsScalar()) {
      bool on = false;
      r.read(s, path + ".scale_horizontally", on);
      if (!on) a.max_replicas = 0;
      else r.error(s, path + ".scale_horizontally: give {max_replicas: N} to switch it on");
    } else if (r.expect_map(s, path + ".scale_horizontally", {"max_replicas", "scale_in_after"})) {
      if (s["max_replicas"]) r.read_int<std::uint32_t>(s["max_replicas"], path + ".scale_horizontally.max_replicas", a.max_replicas, 1, 64);
      if (s["scale_in_after"]) r.read_duration(s["scale_in_after"], path + ".scale_horizontally.scale_in_after", a.scale_in_after);
    }
  }
  if (auto al = node["alert_admin"]) {
    if (al.IsScalar()) {
      bool on = true;
      r.read(al, path + ".alert_admin", on);
      if (!on) a.alert.reset();
      else r.error(al, path + ".alert_admin: give {webhook_url: URL} to switch it on");
    } else if (r.expect_map(al, path + ".alert_admin", {"webhook_url", "format", "headers_file", "repeat"})) {
      AlertWebhookConfig w = a.alert.value_or(AlertWebhookConfig{});
      if (al["webhook_url"]) r.read(al["webhook_url"], path + ".alert_admin.webhook_url", w.url);
      if (!has_scheme(w.url, {"http", "https"}) || url_has_password(w.url)) {
        r.error(al, path + ".alert_admin.webhook_url: expected an http(s) URL without credentials (use headers_file)");
      }
      if (al["format"]) {
        std::string f;
        r.read(al["format"], path + ".alert_admin.format", f);
        if (f == "alertmanager") w.format = AlertWebhookConfig::Format::alertmanager;
        else if (f == "json") w.format = AlertWebhookConfig::Format::json;
        else r.error(al["format"], path + ".alert_admin.format: expected alertmanager or json, got '" + f + "'");
      }
      if (al["headers_file"]) read_optional_path(r, al["headers_file"], path + ".alert_admin.headers_file", w.headers_file);
      if (al["repeat"]) r.read_duration(al["repeat"], path + ".alert_admin.repeat", w.repeat);
      a.alert = std::move(w);
    }
  }
}

void read_upstream_monitoring(Reader& r, const YAML::Node& node, const std::string& path, UpstreamMonitoring& m) {
  if (!r.expect_map(node, path, {"triggers", "actions"})) return;
  if (node["triggers"]) read_triggers(r, node["triggers"], path + ".triggers", m.triggers);
  if (node["actions"]) read_actions(r, node["actions"], path + ".actions", m.actions);
}

}  // namespace

void read_monitoring(Reader& r, const YAML::Node& node, MonitoringConfig& m) {
  if (!r.expect_map(node, "monitoring", {"sample_interval", "triggers", "actions", "upstreams"})) return;
  if (node["sample_interval"]) {
    r.read_duration(node["sample_interval"], "monitoring.sample_interval", m.sample_interval);
    if (m.sample_interval < std::chrono::milliseconds(100)) {
      r.error(node["sample_interval"], "monitoring.sample_interval: at least 100ms");
    }
  }
  if (node["triggers"]) read_triggers(r, node["triggers"], "monitoring.triggers", m.defaults.triggers);
  if (node["actions"]) read_actions(r, node["actions"], "monitoring.actions", m.defaults.actions);
  if (auto ups = node["upstreams"]) {
    if (!ups.IsMap()) {
      r.error(ups, "monitoring.upstreams: expected a mapping of upstream name to {triggers, actions}");
      return;
    }
    for (const auto& kv : ups) {
      auto name = kv.first.Scalar();
      UpstreamMonitoring per = m.defaults;  // starts from the global values
      read_upstream_monitoring(r, kv.second, "monitoring.upstreams." + name, per);
      m.per_upstream[name] = std::move(per);
    }
  }
}

}  // namespace bastion::core::detail
