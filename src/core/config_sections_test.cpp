#include <gtest/gtest.h>

#include "core/config.hpp"
#include "core/units.hpp"

using namespace bastion::core;

namespace {
std::string joined(const ConfigErrors& e) {
  std::string out;
  for (const auto& m : e.messages) out += m + "\n";
  return out;
}
bool mentions(const LoadResult& r, const std::string& text) { return joined(r.errors).find(text) != std::string::npos; }
}  // namespace

TEST(ConfigSections, DefaultsAreTheSeedsSecuritySet) {
  auto r = load_config_text("", "t.yaml");
  ASSERT_TRUE(r.config);
  const auto& c = *r.config;
  ASSERT_EQ(c.rate_limits.size(), 1u);
  EXPECT_EQ(c.rate_limits[0].name, "mcp_api");
  EXPECT_EQ(c.rate_limits[0].match, "/mcp");
  EXPECT_EQ(c.rate_limits[0].rate, "10r/m");
  EXPECT_EQ(c.rate_limits[0].burst, 5u);
  EXPECT_TRUE(c.rate_limits[0].nodelay);
  EXPECT_EQ(c.headers.x_frame_options, "SAMEORIGIN");
  EXPECT_EQ(c.headers.hsts, "max-age=31536000; includeSubDomains");
  EXPECT_EQ(c.headers.content_security_policy,
            "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'");
  EXPECT_FALSE(c.auth.enabled());
  EXPECT_EQ(c.store.capture, StoreConfig::Capture::hashed);
  EXPECT_FALSE(c.listen.tls);
}

TEST(ConfigSections, ReadsAFullProductionConfig) {
  auto r = load_config_text(R"yaml(
listen:
  public: {address: "0.0.0.0:8443", tls: {acme: {email: ops@example.com, domains: [mcp.example.com]}}}
  redirect: {address: "0.0.0.0:8080"}
  admin: {address: "127.0.0.1:8123"}
  allow_cidrs: [10.0.0.0/8, "2001:db8::/32"]
  deny_cidrs: [10.6.6.6]
  trusted_proxies: [10.0.0.1]
headers: {x_frame_options: DENY, hsts: null, extra: {Permissions-Policy: "camera=()"}}
rate_limits:
  - {name: mcp_api, match: /mcp, key: ip, rate: 50r/s, burst: 100, nodelay: false}
  - {name: expensive, tool: "demo__slow*", key: token, rate: 2r/m, burst: 0, enforce: false}
auth:
  tokens_file: /run/secrets/tokens
  resource: https://mcp.example.com/mcp
  jwt: {issuer: https://idp.example.com, jwks_url: https://idp.example.com/jwks.json, leeway: 30s}
  auth_request: {url: http://127.0.0.1:9000/auth}
store: {url: "postgres://bastion@db:5432/bastion", password_file: /run/secrets/pg, capture: redacted, redact_paths: [/arguments/ssn]}
redis: {url: "redis://127.0.0.1:6379", fail_mode: closed}
telemetry: {otlp_endpoint: "http://127.0.0.1:4318/v1/traces"}
tags: {latency_buckets: {fast: 100ms, normal: 500ms, slow: 2s}, contradiction_thresholds: {mild: 0.2, moderate: 0.4, extreme: 0.9}}
upstreams:
  demo: {command: bastion-demo-agent, rlimits: {address_space: 2GiB, cpu_seconds: 3600, open_files: 1024}}
)yaml", "prod.yaml");
  ASSERT_TRUE(r.config) << joined(r.errors);
  const auto& c = *r.config;
  ASSERT_TRUE(c.listen.tls && c.listen.tls->acme);
  EXPECT_EQ(c.listen.tls->acme->domains, std::vector<std::string>{"mcp.example.com"});
  ASSERT_TRUE(c.listen.redirect);
  EXPECT_EQ(c.listen.allow_cidrs.size(), 2u);
  EXPECT_EQ(c.headers.x_frame_options, "DENY");
  EXPECT_EQ(c.headers.hsts, "");
  EXPECT_EQ(c.headers.extra.at("Permissions-Policy"), "camera=()");
  ASSERT_EQ(c.rate_limits.size(), 2u);
  EXPECT_FALSE(c.rate_limits[0].nodelay);
  EXPECT_EQ(c.rate_limits[1].method, "tools/call");
  EXPECT_EQ(c.rate_limits[1].key, RateLimitZoneConfig::Key::token);
  EXPECT_FALSE(c.rate_limits[1].enforce);
  ASSERT_TRUE(c.auth.jwt);
  EXPECT_EQ(c.auth.jwt->audience, std::vector<std::string>{"https://mcp.example.com/mcp"});
  EXPECT_EQ(c.auth.jwt->leeway, std::chrono::seconds(30));
  EXPECT_TRUE(c.auth.enabled());
  EXPECT_EQ(c.store.capture, StoreConfig::Capture::redacted);
  ASSERT_TRUE(c.redis);
  EXPECT_EQ(c.redis->fail_mode, RedisConfig::FailMode::closed);
  EXPECT_EQ(c.tags.slow, std::chrono::seconds(2));
  EXPECT_EQ(c.upstreams[0].rlimits.address_space, 2ull << 30);
}

TEST(ConfigSections, EmptyRateLimitListTurnsLimitingOff) {
  auto r = load_config_text("rate_limits: []\n", "t.yaml");
  ASSERT_TRUE(r.config) << joined(r.errors);
  EXPECT_TRUE(r.config->rate_limits.empty());
}

TEST(ConfigSections, RejectsUnsafeOrBrokenValuesWithLines) {
  auto r = load_config_text(R"yaml(
listen:
  allow_cidrs: [10.0.0.0/33]
  public: {tls: {cert_file: /c.pem}}
rate_limits:
  - {name: a, rate: 10r/h}
  - {name: a, key: tool}
store: {url: "postgres://bastion:hunter2@db/bastion"}
redis: {url: "http://x"}
auth: {jwt: {jwks_file: /j.json}}
tags: {latency_buckets: {fast: 2s, normal: 1s}}
)yaml", "bad.yaml");
  ASSERT_FALSE(r.config);
  EXPECT_TRUE(mentions(r, "bad.yaml:3: listen.allow_cidrs: '10.0.0.0/33'")) << joined(r.errors);
  EXPECT_TRUE(mentions(r, "bad.yaml:4: listen.public.tls: set cert_file and key_file")) << joined(r.errors);
  EXPECT_TRUE(mentions(r, "rate_limits.a.rate: expected e.g. 10r/s or 10r/m")) << joined(r.errors);
  EXPECT_TRUE(mentions(r, "rate_limits.a: defined twice")) << joined(r.errors);
  EXPECT_TRUE(mentions(r, "store.url: must not contain a password")) << joined(r.errors);
  EXPECT_FALSE(mentions(r, "hunter2")) << "a secret leaked into an error message";
  EXPECT_TRUE(mentions(r, "redis.url: expected redis://")) << joined(r.errors);
  EXPECT_TRUE(mentions(r, "auth.jwt.issuer: required")) << joined(r.errors);
  EXPECT_TRUE(mentions(r, "auth.resource: required with jwt")) << joined(r.errors);
  EXPECT_TRUE(mentions(r, "tags.latency_buckets: need fast < normal < slow")) << joined(r.errors);
}

TEST(ConfigSections, AcmeNeedsTheRedirectListener) {
  auto r = load_config_text(R"yaml(
listen:
  public: {address: "0.0.0.0:443", tls: {acme: {domains: [a.example]}}}
)yaml", "t.yaml");
  ASSERT_FALSE(r.config);
  EXPECT_TRUE(mentions(r, "listen.redirect: ACME HTTP-01 needs the plain HTTP listener")) << joined(r.errors);
}

TEST(ConfigSections, AdminOffLoopbackNeedsAToken) {
  auto r = load_config_text("listen: {admin: {address: \"0.0.0.0:8123\"}}\n", "t.yaml");
  ASSERT_FALSE(r.config);
  EXPECT_TRUE(mentions(r, "listen.admin.token_file: required")) << joined(r.errors);
  auto ok = load_config_text("listen: {admin: {address: \"0.0.0.0:8123\", token_file: /run/secrets/admin}}\n", "t.yaml");
  EXPECT_TRUE(ok.config) << joined(ok.errors);
}

TEST(ConfigSections, RequestRates) {
  EXPECT_DOUBLE_EQ(*parse_request_rate("10r/s"), 10.0);
  EXPECT_DOUBLE_EQ(*parse_request_rate("10r/m"), 10.0 / 60);
  EXPECT_DOUBLE_EQ(*parse_request_rate("0.5r/s"), 0.5);
  for (const char* bad : {"", "r/s", "10r/h", "10", "-1r/s", "0r/s", "10r/ss", "1e3r/s"}) {
    EXPECT_FALSE(parse_request_rate(bad)) << bad;
  }
}

TEST(ConfigSections, MonitoringDefaultsAreTheSeedsTriggers) {
  auto r = load_config_text("", "t.yaml");
  ASSERT_TRUE(r.config);
  const auto& m = r.config->monitoring.defaults;
  EXPECT_EQ(m.triggers.memory_bytes, 1'500'000'000u);
  EXPECT_EQ(m.triggers.latency, std::chrono::milliseconds(5000));
  EXPECT_DOUBLE_EQ(m.triggers.error_rate, 0.05);
  EXPECT_TRUE(m.triggers.predict);
  EXPECT_TRUE(m.actions.restart_service);
  EXPECT_EQ(m.actions.max_replicas, 0u);
  EXPECT_FALSE(m.actions.alert);
}

TEST(ConfigSections, MonitoringPerUpstreamOverridesStartFromTheGlobalValues) {
  auto r = load_config_text(R"yaml(
upstreams:
  demo: {command: /bin/true}
monitoring:
  sample_interval: 250ms
  triggers: {memory: 200MB, latency: 2s, error_rate: 10%, window: 1m, horizon: 30s, min_samples: 4}
  actions:
    scale_horizontally: {max_replicas: 3, scale_in_after: 1m}
    alert_admin: {webhook_url: "http://127.0.0.1:9093/api/v2/alerts", repeat: 30s}
  upstreams:
    demo: {triggers: {memory: 100MB}, actions: {restart_service: false}}
)yaml", "t.yaml");
  ASSERT_TRUE(r.config) << joined(r.errors);
  const auto& m = r.config->monitoring;
  EXPECT_EQ(m.sample_interval, std::chrono::milliseconds(250));
  EXPECT_EQ(m.defaults.triggers.memory_bytes, 200'000'000u);
  EXPECT_EQ(m.defaults.actions.max_replicas, 3u);
  ASSERT_TRUE(m.defaults.actions.alert);
  EXPECT_EQ(m.defaults.actions.alert->format, AlertWebhookConfig::Format::alertmanager);
  const auto& demo = m.for_upstream("demo");
  EXPECT_EQ(demo.triggers.memory_bytes, 100'000'000u);
  EXPECT_EQ(demo.triggers.latency, std::chrono::milliseconds(2000));  // inherited
  EXPECT_FALSE(demo.actions.restart_service);
  EXPECT_EQ(demo.actions.max_replicas, 3u);
  EXPECT_EQ(&m.for_upstream("other"), &m.defaults);
}

TEST(ConfigSections, MonitoringRejectsBadValuesWithLines) {
  auto r = load_config_text(R"yaml(
monitoring:
  sample_interval: 1ms
  triggers: {memory: lots, error_rate: 150%, window: 2h}
  actions: {alert_admin: {webhook_url: "ftp://x", format: xml}, scale_horizontally: true}
  upstreams: {ghost: {}}
)yaml", "t.yaml");
  ASSERT_FALSE(r.config);
  EXPECT_TRUE(mentions(r, "t.yaml:3: monitoring.sample_interval"));
  EXPECT_TRUE(mentions(r, "monitoring.triggers.memory"));
  EXPECT_TRUE(mentions(r, "monitoring.triggers.error_rate"));
  EXPECT_TRUE(mentions(r, "monitoring.triggers.window"));
  EXPECT_TRUE(mentions(r, "monitoring.actions.alert_admin.webhook_url"));
  EXPECT_TRUE(mentions(r, "monitoring.actions.alert_admin.format"));
  EXPECT_TRUE(mentions(r, "monitoring.actions.scale_horizontally"));
  EXPECT_TRUE(mentions(r, "monitoring.upstreams.ghost: no such upstream"));
}
