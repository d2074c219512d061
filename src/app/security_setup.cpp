#include "app/security_setup.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "core/secrets.hpp"
#include "guard/auth/resource_metadata.hpp"
#include "net/client/http_client.hpp"

namespace bastion::app {

std::variant<std::shared_ptr<const guard::Authenticators>, SetupError> build_authenticators(
    const core::AuthConfig& config, boost::asio::any_io_executor executor) {
  auto auth = std::make_shared<guard::Authenticators>();
  auth->required_scopes = config.required_scopes;
  if (!config.resource.empty()) {
    if (auto url = guard::auth::metadata_url_for(config.resource)) auth->metadata_url = *url;
  }
  if (auto path = core::secret_file_path(config.tokens_file, "AUTH_TOKENS")) {
    auto loaded = guard::auth::TokenStore::load(*path);
    for (const auto& w : loaded.warnings) spdlog::warn("{}", w);
    if (!loaded.ok()) {
      std::string all;
      for (const auto& e : loaded.errors) all += (all.empty() ? "" : "; ") + e;
      return SetupError{"tokens file: " + all};
    }
    auth->tokens = std::move(loaded.store);
    spdlog::info("authentication: {} Bastion token(s) loaded", auth->tokens->size());
  }
  std::shared_ptr<net::client::HttpClientPool> pool;
  auto http_pool = [&]() -> std::shared_ptr<net::client::HttpClientPool> {
    if (!pool) {
      auto created = net::client::HttpClientPool::create(executor);
      if (created) pool = *created;
    }
    return pool;
  };
  if (config.jwt) {
    const auto& j = *config.jwt;
    guard::auth::JwtVerifier verifier;
    verifier.issuer = j.issuer;
    verifier.audience = j.audience.empty() ? config.resource : j.audience.front();
    verifier.leeway = std::chrono::duration_cast<std::chrono::seconds>(j.leeway);
    verifier.required_scopes = config.required_scopes;
    verifier.tools_claim = j.tools_claim;
    auth->jwt = verifier;
    if (j.jwks_file) {
      auth->jwks = guard::auth::JwksCache::from_file(*j.jwks_file);
      // Load now, while the file is surely readable (before privileges are dropped); later
      // refreshes that fail keep this set.
      boost::asio::io_context once;
      std::string error = "not loaded";
      boost::asio::co_spawn(once, [&]() -> boost::asio::awaitable<void> { error = co_await auth->jwks->refresh(); },
                            boost::asio::detached);
      once.run();
      if (!error.empty()) return SetupError{"jwks_file " + *j.jwks_file + ": " + error};
    } else if (j.jwks_url) {
      if (!http_pool()) return SetupError{"cannot create the HTTP client for the JWKS URL"};
      auth->jwks = guard::auth::JwksCache::from_url(http_pool(), *j.jwks_url);
    }
  }
  if (config.auth_request) {
    if (!http_pool()) return SetupError{"cannot create the HTTP client for auth_request"};
    guard::auth::AuthRequestConfig c;
    c.url = config.auth_request->url;
    c.timeout = config.auth_request->timeout;
    c.cache_ttl = config.auth_request->cache_ttl;
    c.user_header = config.auth_request->user_header;
    auth->auth_request = std::make_shared<guard::auth::AuthRequestClient>(http_pool(), c);
  }
  return std::shared_ptr<const guard::Authenticators>(std::move(auth));
}

std::variant<std::shared_ptr<guard::RateLimitBackend>, SetupError> build_rate_limit_backend(
    const core::Config& config, boost::asio::any_io_executor executor) {
  auto backend = std::make_shared<guard::RateLimitBackend>();
  if (config.redis) {
    auto endpoint = rate_limit::parse_redis_url(config.redis->url);
    if (auto* e = std::get_if<rate_limit::RedisUrlError>(&endpoint)) return SetupError{"redis.url: " + e->message};
    rate_limit::RedisLimiterOptions options;
    options.endpoint = std::get<rate_limit::RedisEndpoint>(endpoint);
    if (auto path = core::secret_file_path(config.redis->password_file, "REDIS_PASSWORD")) {
      auto secret = core::read_secret_file(*path);  // checked now; the limiter re-reads at each connect
      if (!secret.value) return SetupError{"redis: " + secret.error};
      options.password_file = *path;
    }
    options.budget = config.redis->timeout;
    options.fail_mode = config.redis->fail_mode == core::RedisConfig::FailMode::open ? rate_limit::FailMode::open
                                                                                    : rate_limit::FailMode::closed;
    backend->redis = std::make_unique<rate_limit::RedisLimiter>(executor, options);
    backend->redis->start();
  }
  return backend;
}

}  // namespace bastion::app
