#include "guard/guard.hpp"

#include "guard/auth_guard.hpp"
#include "guard/client_address.hpp"
#include "guard/rate_limit_guard.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

namespace bastion::guard {

namespace http = net::http;

void RejectionCounters::add(const std::string& reason) {
  std::lock_guard lock(mutex_);
  ++counts_[reason];
}

std::map<std::string, std::uint64_t> RejectionCounters::snapshot() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

boost::asio::awaitable<std::optional<Rejection>> Guard::check_async(RequestContext& ctx) const {
  co_return check(ctx);
}

GuardChain::GuardChain() : addresses_(std::make_unique<ClientAddressResolver>()) {}
GuardChain::GuardChain(GuardChain&&) noexcept = default;
GuardChain& GuardChain::operator=(GuardChain&&) noexcept = default;
GuardChain::~GuardChain() = default;

GuardChain GuardChain::standard(const core::Config& config, const GuardResources& resources) {
  GuardChain chain;
  chain.addresses_ = std::make_unique<ClientAddressResolver>(config.listen.trusted_proxies);
  // 1. Network filter first: a denied network learns nothing, not even whether Host is valid.
  if (!config.listen.allow_cidrs.empty() || !config.listen.deny_cidrs.empty()) {
    chain.add(std::make_unique<IpFilterGuard>(config.listen.allow_cidrs, config.listen.deny_cidrs));
  }
  // 2. Host/Origin: a request from a rebinding page must not reach anything else, and the
  //    check needs only headers.
  chain.add(std::make_unique<OriginGuard>(config.origins));
  // 3. In-flight cap per client, before anything that costs work (auth subrequests, upstreams).
  chain.add(std::make_unique<InFlightGuard>(config.limits.max_in_flight_per_client));
  auto backend = resources.rate_limits ? resources.rate_limits : std::make_shared<RateLimitBackend>();
  std::vector<RateLimitZone> by_address, after_auth;
  for (auto& zone : rate_limit_zones(config.rate_limits)) {
    const bool address_only = !zone.per_call() && zone.config.key == core::RateLimitZoneConfig::Key::ip;
    (address_only ? by_address : after_auth).push_back(std::move(zone));
  }
  // 4. Address-keyed limits before authentication (nginx: limit_req runs before auth_request),
  //    so a flood never reaches the token check or the authorization service.
  if (!by_address.empty()) {
    chain.add(std::make_unique<RateLimitGuard>("rate_limit", std::move(by_address), backend));
  }
  // 5. Authentication: who is calling (tokens, JWT, auth_request).
  if (resources.authenticators && resources.authenticators->any()) {
    chain.add(std::make_unique<AuthGuard>(resources.authenticators));
  }
  // 6. Limits keyed by caller or tool, and per-method/tool zones from the parsed body.
  if (!after_auth.empty()) {
    auto guard = std::make_unique<RateLimitGuard>("rate_limit_caller", std::move(after_auth), backend);
    if (guard->needs_calls()) chain.set_needs_calls();
    chain.add(std::move(guard));
  }
  // Tool allowlists are enforced by the router's call policy, where tools/list is filtered too.
  return chain;
}

void GuardChain::resolve_client(RequestContext& ctx) const {
  std::string_view target(ctx.request.target().data(), ctx.request.target().size());
  ctx.path = std::string(target.substr(0, target.find('?')));
  ctx.client = addresses_->resolve(ctx.request, ctx.connection.remote.address());
  ctx.client_text = ClientAddressResolver::text(ctx.client);
}

boost::asio::awaitable<std::optional<Rejection>> GuardChain::run(RequestContext& ctx) const {
  resolve_client(ctx);
  for (const auto& g : guards_) {
    // Plain if/else: GCC 12 miscompiles co_await inside a conditional expression.
    std::optional<Rejection> r;
    if (g->asynchronous()) {
      r = co_await g->check_async(ctx);
    } else {
      r = g->check(ctx);
    }
    if (r) co_return r;
  }
  co_return std::nullopt;
}

std::optional<Rejection> GuardChain::run_sync(RequestContext& ctx) const {
  resolve_client(ctx);
  for (const auto& g : guards_) {
    if (g->asynchronous()) continue;
    if (auto r = g->check(ctx)) return r;
  }
  return std::nullopt;
}

std::vector<std::string_view> GuardChain::names() const {
  std::vector<std::string_view> out;
  for (const auto& g : guards_) out.push_back(g->name());
  return out;
}

namespace {
// Messages quote request headers (Host, Origin), which may hold any bytes; Boost.JSON writes
// strings unvalidated, so anything but printable ASCII becomes '?' to keep the body valid JSON.
std::string printable(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  return out;
}
}  // namespace

net::Response reject(const Rejection& rejection, RejectionCounters& counters, unsigned version) {
  counters.add(rejection.reason);
  spdlog::info("request rejected: {} ({})", rejection.reason, static_cast<int>(rejection.status));
  boost::json::object body{{"jsonrpc", "2.0"},
                           {"id", nullptr},
                           {"error", boost::json::object{{"code", -32000}, {"message", printable(rejection.message)}}}};
  net::Response res{rejection.status, version};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  for (const auto& [name, value] : rejection.headers) res.set(name, value);
  res.body() = boost::json::serialize(body);
  return res;
}

IpFilterGuard::IpFilterGuard(const std::vector<std::string>& allow, const std::vector<std::string>& deny) {
  allow_.assign(allow);
  deny_.assign(deny);
}

std::optional<Rejection> IpFilterGuard::check(RequestContext& ctx) const {
  if (deny_.contains(ctx.client) || (!allow_.empty() && !allow_.contains(ctx.client))) {
    return Rejection{http::status::forbidden, "ip_denied", "Forbidden: client address not allowed"};
  }
  return std::nullopt;
}

struct InFlightGuard::State {
  std::mutex mutex;
  std::unordered_map<std::string, std::uint32_t> counts;
};

InFlightGuard::InFlightGuard(std::uint32_t per_client) : limit_(per_client), state_(std::make_shared<State>()) {}

std::optional<Rejection> InFlightGuard::check(RequestContext& ctx) const {
  std::string key(reinterpret_cast<const char*>(ctx.client.bytes.data()), ctx.client.bytes.size());
  {
    std::lock_guard lock(state_->mutex);
    auto& n = state_->counts[key];
    if (n >= limit_) {
      return Rejection{http::status::service_unavailable, "too_many_in_flight",
                       "Service Unavailable: too many concurrent requests from this client",
                       {{"Retry-After", "1"}}};
    }
    ++n;
  }
  // The slot is released when the request's context lets go of it, whatever path it took.
  ctx.holds.push_back(std::shared_ptr<void>(nullptr, [state = state_, key](void*) {
    std::lock_guard lock(state->mutex);
    auto it = state->counts.find(key);
    if (it != state->counts.end() && --it->second == 0) state->counts.erase(it);
  }));
  return std::nullopt;
}

std::size_t InFlightGuard::tracked_clients() const {
  std::lock_guard lock(state_->mutex);
  return state_->counts.size();
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// "host:port" or "[v6]:port" -> host (lower-case, brackets kept for v6).
std::string host_part(std::string_view hostport) {
  std::string h = lower(hostport);
  if (!h.empty() && h.front() == '[') {
    auto close = h.find(']');
    return close == std::string::npos ? h : h.substr(0, close + 1);
  }
  auto colon = h.find(':');
  return colon == std::string::npos ? h : h.substr(0, colon);
}

bool loopback_name(const std::string& host) {
  return host == "localhost" || host == "127.0.0.1" || host == "[::1]" ||
         (host.size() > 4 && host.substr(0, 4) == "127." &&
          std::all_of(host.begin(), host.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; }));
}

}  // namespace

bool OriginGuard::is_loopback_host(std::string_view host_header) { return loopback_name(host_part(host_header)); }

OriginGuard::OriginGuard(core::OriginsConfig config) : config_(std::move(config)) {}

std::optional<Rejection> OriginGuard::check(RequestContext& ctx) const {
  const bool loopback_listener = ctx.connection.local.address().is_loopback();
  auto host_it = ctx.request.find(http::field::host);
  std::string host = host_it == ctx.request.end() ? "" : host_part(std::string_view(host_it->value().data(), host_it->value().size()));
  auto host_allowed = [&](const std::string& h) {
    for (const auto& a : config_.allowed_hosts) {
      if (a == "*" || lower(a) == h) return true;
    }
    return false;
  };
  if (loopback_listener) {
    // DNS rebinding: a hostile page resolves its own name to 127.0.0.1; its Host header betrays it.
    if (!loopback_name(host) && !host_allowed(host)) {
      return Rejection{http::status::forbidden, "host_not_allowed",
                       "Forbidden: Host '" + host + "' is not allowed on a loopback listener"};
    }
  } else if (!config_.allowed_hosts.empty() && !host_allowed(host)) {
    return Rejection{http::status::forbidden, "host_not_allowed", "Forbidden: Host not allowed"};
  }
  auto origin_it = ctx.request.find(http::field::origin);
  if (origin_it == ctx.request.end()) return std::nullopt;  // non-browser clients send none
  std::string origin = lower(std::string_view(origin_it->value().data(), origin_it->value().size()));
  for (const auto& a : config_.allowed) {
    if (a == "*" || lower(a) == origin) return std::nullopt;
  }
  if (loopback_listener) {
    auto scheme_end = origin.find("://");
    if (scheme_end != std::string::npos) {
      auto scheme = origin.substr(0, scheme_end);
      if ((scheme == "http" || scheme == "https") && loopback_name(host_part(origin.substr(scheme_end + 3)))) {
        return std::nullopt;
      }
    }
  }
  return Rejection{http::status::forbidden, "origin_not_allowed", "Forbidden: Origin '" + origin + "' is not allowed"};
}

}  // namespace bastion::guard
