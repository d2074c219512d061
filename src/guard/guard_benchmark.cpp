// The guard chain as the public listener runs it for every request (GuardChain::standard, the
// coroutine run()): the default configuration, and a full front door (trusted proxy, deny
// CIDRs, an address-keyed and a token-keyed rate-limit zone, and a Bastion bearer token checked
// against a tokens file of 100 entries). The token check alone is measured as well.
#include <benchmark/benchmark.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "guard/auth_guard.hpp"
#include "guard/guard.hpp"

namespace {

using namespace bastion;
namespace asio = boost::asio;

struct Front {
  core::Config config;
  guard::GuardResources resources;
  std::string token;  // a valid one
};

// A limit no benchmark reaches: the full computation and a store on every request.
core::RateLimitZoneConfig zone(std::string name, core::RateLimitZoneConfig::Key key) {
  core::RateLimitZoneConfig z;
  z.name = std::move(name);
  z.key = key;
  z.rate = "1000000r/s";
  z.burst = 1'000'000'000;
  return z;
}

Front full_front() {
  Front f;
  f.config.listen.trusted_proxies = {"10.0.0.0/8"};
  f.config.listen.deny_cidrs = {"198.51.100.0/24", "192.0.2.66", "2001:db8::/32"};
  f.config.origins.allowed_hosts = {"mcp.example.com"};
  f.config.origins.allowed = {"https://app.example.com"};
  f.config.rate_limits = {zone("by_ip", core::RateLimitZoneConfig::Key::ip),
                          zone("by_token", core::RateLimitZoneConfig::Key::token)};
  auto auth = std::make_shared<guard::Authenticators>();
  std::string file;
  for (int i = 0; i < 100; ++i) {
    auto created = guard::auth::create_token("client-" + std::to_string(i), {}, {});
    if (!created) continue;
    file += guard::auth::serialize_token_entry(created->entry) + "\n";
    if (i == 42) f.token = created->token;
  }
  auto loaded = guard::auth::TokenStore::parse(file, "tokens");
  auth->tokens = std::move(loaded.store);
  f.resources.authenticators = auth;
  return f;
}

net::Request mcp_request(const std::string& token) {
  net::Request r{net::http::verb::post, "/mcp/echo", 11};
  r.set(net::http::field::host, "mcp.example.com");
  r.set(net::http::field::content_type, "application/json");
  r.set(net::http::field::accept, "application/json, text/event-stream");
  r.set("MCP-Protocol-Version", "2026-07-28");
  if (!token.empty()) {
    r.set(net::http::field::authorization, "Bearer " + token);
    r.set("X-Forwarded-For", "203.0.113.7");
    r.set(net::http::field::origin, "https://app.example.com");
  }
  return r;
}

net::ConnectionInfo connection(const char* local, const char* peer) {
  net::ConnectionInfo c;
  c.local = net::tcp::endpoint(asio::ip::make_address(local), 8443);
  c.remote = net::tcp::endpoint(asio::ip::make_address(peer), 40000);
  return c;
}

// Runs the chain once per iteration inside one coroutine, as the listener does per request.
void run_chain(benchmark::State& state, const guard::GuardChain& chain, const net::Request& request,
               const net::ConnectionInfo& conn) {
  asio::io_context ioc;
  bool rejected = false;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        for (auto _ : state) {
          guard::RequestContext ctx(request, conn);
          auto r = co_await chain.run(ctx);
          rejected = rejected || r.has_value();
          benchmark::DoNotOptimize(ctx.response_headers);
        }
      },
      asio::detached);
  ioc.run();
  if (rejected) state.SkipWithError("the chain rejected a request that should pass");
}

// What bench/run.sh's pass-through Bastion runs: Host/Origin and the in-flight cap (no zones).
void BM_GuardChainDefault(benchmark::State& state) {
  core::Config config;
  config.rate_limits.clear();
  auto chain = guard::GuardChain::standard(config);
  auto request = mcp_request("");
  request.set(net::http::field::host, "127.0.0.1:8080");
  auto conn = connection("127.0.0.1", "127.0.0.1");
  run_chain(state, chain, request, conn);
}
BENCHMARK(BM_GuardChainDefault);

// The full front door's chain for a request from behind the trusted proxy with a valid token.
void run_full_front(benchmark::State& state, bool with_zones) {
  auto front = full_front();
  if (!with_zones) front.config.rate_limits.clear();
  auto chain = guard::GuardChain::standard(front.config, front.resources);
  auto request = mcp_request(front.token);
  auto conn = connection("10.0.0.1", "10.0.0.2");
  run_chain(state, chain, request, conn);
  state.counters["guards"] = static_cast<double>(chain.names().size());
}

// Client address behind a trusted proxy, deny CIDRs, Host and Origin allowlists, in-flight cap,
// an address zone, token authentication, a token zone.
void BM_GuardChainFull(benchmark::State& state) { run_full_front(state, true); }
BENCHMARK(BM_GuardChainFull);

// The same without the two rate-limit zones: the difference is what the zones cost.
void BM_GuardChainFullNoZones(benchmark::State& state) { run_full_front(state, false); }
BENCHMARK(BM_GuardChainFullNoZones);

// The bearer-token check alone (salted SHA-256, constant-time compare).
void BM_TokenVerify(benchmark::State& state) {
  auto front = full_front();
  const auto& tokens = *front.resources.authenticators->tokens;
  for (auto _ : state) {
    auto principal = tokens.verify(front.token);
    if (!principal) state.SkipWithError("token not accepted");
    benchmark::DoNotOptimize(principal);
  }
}
BENCHMARK(BM_TokenVerify);

}  // namespace

BENCHMARK_MAIN();
