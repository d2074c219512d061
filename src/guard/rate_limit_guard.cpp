#include "guard/rate_limit_guard.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "guard/auth/tool_policy.hpp"
#include "guard/rate_limit/headers.hpp"

namespace bastion::guard {

namespace asio = boost::asio;
namespace http = net::http;

void RateLimitBackend::count(const std::string& zone, bool enforced) {
  std::lock_guard lock(mutex);
  ++(enforced ? limited : shadowed)[zone];
}

bool RateLimitZone::matches_path(std::string_view path) const {
  const auto& m = config.match;
  if (path.substr(0, m.size()) != m) return false;
  // "/mcp" matches "/mcp" and "/mcp/demo", not "/mcpx".
  return path.size() == m.size() || m.back() == '/' || path[m.size()] == '/';
}

bool RateLimitZone::matches_call(const CallPeek& call) const {
  if (call.method != config.method) return false;
  return config.tool.empty() || auth::glob_match(config.tool, call.tool);
}

std::vector<RateLimitZone> rate_limit_zones(const std::vector<core::RateLimitZoneConfig>& configs) {
  std::vector<RateLimitZone> zones;
  for (const auto& c : configs) {
    auto parsed = rate_limit::parse_rate(c.rate);
    const auto* rate = std::get_if<rate_limit::Rate>(&parsed);
    if (!rate) continue;  // the config loader already refused it
    zones.push_back(RateLimitZone{c, rate_limit::make_policy(c.name, *rate, c.burst, c.nodelay)});
  }
  return zones;
}

RateLimitGuard::RateLimitGuard(std::string name, std::vector<RateLimitZone> zones,
                               std::shared_ptr<RateLimitBackend> backend)
    : name_(std::move(name)), zones_(std::move(zones)), backend_(std::move(backend)) {
  asynchronous_ = backend_->redis != nullptr;
  for (const auto& z : zones_) asynchronous_ = asynchronous_ || !z.config.nodelay;
}

bool RateLimitGuard::needs_calls() const {
  for (const auto& z : zones_) {
    if (z.per_call()) return true;
  }
  return false;
}

std::vector<std::pair<const RateLimitZone*, std::string>> RateLimitGuard::applicable(const RequestContext& ctx) const {
  std::vector<std::pair<const RateLimitZone*, std::string>> out;
  for (const auto& z : zones_) {
    if (!z.matches_path(ctx.path)) continue;
    auto key_for = [&](const CallPeek* call) -> std::string {
      switch (z.config.key) {
        case core::RateLimitZoneConfig::Key::token:
          // Unauthenticated callers share their address's bucket, never a token's.
          return ctx.caller.authenticated ? "t:" + ctx.caller.name : "a:" + ctx.client_text;
        case core::RateLimitZoneConfig::Key::tool: return "tool:" + (call ? call->tool : std::string());
        case core::RateLimitZoneConfig::Key::ip: break;
      }
      return ctx.client_text;
    };
    if (!z.per_call()) {
      out.emplace_back(&z, key_for(nullptr));
      continue;
    }
    for (const auto& call : ctx.calls) {  // every matching call of a batch counts
      if (z.matches_call(call)) out.emplace_back(&z, key_for(&call));
    }
  }
  return out;
}

std::optional<Rejection> RateLimitGuard::settle(const RateLimitZone& zone, const rate_limit::Decision& decision,
                                                RequestContext& ctx, bool service_unavailable) const {
  if (service_unavailable) {
    // Fail-closed and Redis could not decide: not the client's fault, so 503 rather than 429.
    return Rejection{http::status::service_unavailable, "rate_limit_unavailable",
                     "Service Unavailable: the rate limiter cannot decide; try again shortly", {{"Retry-After", "1"}}};
  }
  auto headers = rate_limit::decision_headers(zone.policy, decision);
  if (decision.admitted()) {
    // The first zone that applies speaks for the request in RateLimit headers.
    bool present = false;
    for (const auto& [n, v] : ctx.response_headers) present = present || n == "RateLimit";
    if (!present) {
      for (auto& h : headers) ctx.response_headers.emplace_back(std::move(h.name), std::move(h.value));
    }
    return std::nullopt;
  }
  backend_->count(zone.config.name, zone.config.enforce);
  if (!zone.config.enforce) {
    spdlog::info("rate limit (shadow) zone={} client={} would be limited", zone.config.name, ctx.client_text);
    return std::nullopt;
  }
  Rejection r{http::status::too_many_requests, "rate_limited",
              "Too Many Requests: rate limit '" + zone.config.name + "' exceeded", {}, -32000};
  for (auto& h : headers) r.headers.emplace_back(std::move(h.name), std::move(h.value));
  return r;
}

std::optional<Rejection> RateLimitGuard::check(RequestContext& ctx) const {
  const auto now = rate_limit::LocalLimiter::Clock::now();
  for (const auto& [zone, key] : applicable(ctx)) {
    auto decision = backend_->local.check(zone->policy, zone->config.name + "\x1f" + key, now);
    if (auto r = settle(*zone, decision, ctx, false)) return r;
  }
  return std::nullopt;
}

asio::awaitable<std::optional<Rejection>> RateLimitGuard::check_async(RequestContext& ctx) const {
  auto zones = applicable(ctx);
  for (const auto& [zone, key] : zones) {
    rate_limit::Decision decision;
    bool unavailable = false;
    if (backend_->redis) {
      auto shared = co_await backend_->redis->check(zone->policy, zone->config.name + ":" + key);
      if (shared.source == rate_limit::RedisDecision::Source::unavailable) {
        ++backend_->redis_unavailable;
        // Fail-open: allowed without RateLimit headers (nobody counted the request).
        if (!shared.service_unavailable) continue;
      }
      decision = shared.decision;
      unavailable = shared.service_unavailable;
    } else {
      decision = backend_->local.check(zone->policy, zone->config.name + "\x1f" + key,
                                       rate_limit::LocalLimiter::Clock::now());
    }
    std::optional<Rejection> r = settle(*zone, decision, ctx, unavailable);
    if (r) co_return r;
    if (decision.kind == rate_limit::Decision::Kind::delay && zone->config.enforce) {
      // nginx without nodelay: excess requests within the burst leave at the zone's rate.
      asio::steady_timer timer(co_await asio::this_coro::executor, decision.delay);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
  co_return std::nullopt;
}

}  // namespace bastion::guard
