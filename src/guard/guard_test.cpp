#include "guard/guard.hpp"
#include "guard/auth_guard.hpp"
#include "guard/client_address.hpp"
#include "guard/security_headers.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

using namespace bastion;

namespace {
net::ConnectionInfo on(const char* local) {
  net::ConnectionInfo c;
  c.local = net::tcp::endpoint(boost::asio::ip::make_address(local), 8080);
  return c;
}
// Runs one guard on a request the way the chain would.
std::optional<guard::Rejection> run(const guard::Guard& g, const net::Request& r, const net::ConnectionInfo& c) {
  guard::RequestContext ctx(r, c);
  return g.check(ctx);
}
net::Request request(const char* host, const char* origin = nullptr) {
  net::Request r{net::http::verb::post, "/mcp", 11};
  r.set(net::http::field::host, host);
  if (origin) r.set(net::http::field::origin, origin);
  return r;
}
}  // namespace

TEST(OriginGuard, LoopbackListenerRejectsRebindingHosts) {
  guard::OriginGuard g({});
  auto conn = on("127.0.0.1");
  EXPECT_FALSE(run(g, request("localhost:8080"), conn));
  EXPECT_FALSE(run(g, request("127.0.0.1:8080", "http://127.0.0.1:8080"), conn));
  EXPECT_FALSE(run(g, request("[::1]:8080", "http://localhost:3000"), conn));
  auto r = run(g, request("evil.example.com", "http://evil.example.com"), conn);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, net::http::status::forbidden);
  EXPECT_EQ(r->reason, "host_not_allowed");
  r = run(g, request("localhost:8080", "http://evil.example.com"), conn);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "origin_not_allowed");
}

TEST(OriginGuard, ConfiguredOriginsOnPublicListener) {
  core::OriginsConfig cfg;
  cfg.allowed = {"https://app.example.com"};
  guard::OriginGuard g(cfg);
  auto conn = on("10.0.0.5");
  EXPECT_FALSE(run(g, request("mcp.example.com"), conn)) << "no Origin: not a browser";
  EXPECT_FALSE(run(g, request("mcp.example.com", "https://app.example.com"), conn));
  EXPECT_TRUE(run(g, request("mcp.example.com", "https://evil.example.com"), conn));
  EXPECT_TRUE(run(g, request("mcp.example.com", "http://localhost"), conn))
      << "loopback origins are only trusted on loopback listeners";
}

// Found by fuzz_http_request: a Host header with bytes that are not UTF-8 was quoted into the
// JSON-RPC error as they were, and the reply was not JSON a client could parse.
TEST(GuardChain, RejectionQuotingHeaderBytesIsValidJson) {
  guard::OriginGuard g({});
  auto r = run(g, request("127.0\x8e\xff\x01\"x"), on("127.0.0.1"));
  ASSERT_TRUE(r);
  guard::RejectionCounters counters;
  auto res = guard::reject(*r, counters);
  boost::system::error_code ec;
  auto body = boost::json::parse(res.body(), ec);
  ASSERT_FALSE(ec) << res.body();
  EXPECT_EQ(body.at("error").at("message").as_string(),
            "Forbidden: Host '127.0???\"x' is not allowed on a loopback listener");
}

TEST(GuardChain, RejectCountsByReason) {
  guard::RejectionCounters counters;
  auto res = guard::reject({net::http::status::forbidden, "origin_not_allowed", "no"}, counters);
  EXPECT_EQ(res.result(), net::http::status::forbidden);
  EXPECT_NE(res.body().find("\"code\":-32000"), std::string::npos);
  EXPECT_EQ(counters.snapshot().at("origin_not_allowed"), 1u);
}

namespace {
net::ConnectionInfo from(const char* peer) {
  net::ConnectionInfo c;
  c.local = net::tcp::endpoint(boost::asio::ip::make_address("10.0.0.1"), 8443);
  c.remote = net::tcp::endpoint(boost::asio::ip::make_address(peer), 40000);
  return c;
}
std::string client_of(const guard::ClientAddressResolver& r, const net::Request& req, const char* peer) {
  return guard::ClientAddressResolver::text(r.resolve(req, boost::asio::ip::make_address(peer)));
}
}  // namespace

TEST(ClientAddress, HeadersFromUntrustedPeersAreIgnored) {
  guard::ClientAddressResolver r({"10.0.0.0/24"});
  auto req = request("x");
  req.set("X-Forwarded-For", "1.2.3.4");
  EXPECT_EQ(client_of(r, req, "203.0.113.9"), "203.0.113.9");
  guard::ClientAddressResolver none;
  EXPECT_EQ(client_of(none, req, "10.0.0.2"), "10.0.0.2");
}

TEST(ClientAddress, WalksTrustedHopsFromTheRight) {
  guard::ClientAddressResolver r({"10.0.0.0/24", "192.168.0.1"});
  auto req = request("x");
  // Client-supplied garbage on the left cannot win: the rightmost untrusted hop is the client.
  req.set("X-Forwarded-For", "6.6.6.6, 198.51.100.7, 192.168.0.1");
  EXPECT_EQ(client_of(r, req, "10.0.0.5"), "198.51.100.7");
  req.set("X-Forwarded-For", "198.51.100.7:5555");
  EXPECT_EQ(client_of(r, req, "10.0.0.5"), "198.51.100.7");
  req.set("X-Forwarded-For", "not-an-ip");
  EXPECT_EQ(client_of(r, req, "10.0.0.5"), "10.0.0.5");
}

TEST(ClientAddress, ForwardedHeaderWinsOverXff) {
  guard::ClientAddressResolver r({"10.0.0.0/24"});
  auto req = request("x");
  req.set("X-Forwarded-For", "6.6.6.6");
  req.insert(net::http::field::forwarded, "for=\"[2001:db8::7]:4711\";proto=https");
  req.insert(net::http::field::forwarded, "for=10.0.0.9");
  EXPECT_EQ(client_of(r, req, "10.0.0.5"), "2001:db8::7");
  auto hidden = request("x");
  hidden.set(net::http::field::forwarded, "for=_hidden, for=10.0.0.9");
  EXPECT_EQ(client_of(r, hidden, "10.0.0.5"), "10.0.0.9");
}

TEST(IpFilterGuard, DenyWinsAndAllowListIsExclusive) {
  core::Config config;
  config.listen.allow_cidrs = {"203.0.113.0/24"};
  config.listen.deny_cidrs = {"203.0.113.66"};
  auto chain = guard::GuardChain::standard(config);
  auto req = request("mcp.example.com");
  auto check = [&](const char* peer) {
    auto conn = from(peer);
    guard::RequestContext ctx(req, conn);
    return chain.run_sync(ctx);
  };
  EXPECT_FALSE(check("203.0.113.10"));
  auto denied = check("203.0.113.66");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->reason, "ip_denied");
  ASSERT_TRUE(check("198.51.100.1"));
  EXPECT_EQ(chain.names().front(), "ip_filter");
}

TEST(InFlightGuard, CapsConcurrentRequestsPerClientAndReleases) {
  guard::InFlightGuard g(2);
  auto req = request("x");
  auto a = from("203.0.113.1"), b = from("203.0.113.2");
  guard::RequestContext c1(req, a), c2(req, a), c3(req, a), other(req, b);
  for (auto* c : {&c1, &c2, &c3, &other}) c->client = guard::ClientAddressResolver::from_asio(c->connection.remote.address());
  EXPECT_FALSE(g.check(c1));
  EXPECT_FALSE(g.check(c2));
  auto r = g.check(c3);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, net::http::status::service_unavailable);
  EXPECT_FALSE(g.check(other)) << "another client is not affected";
  c1.holds.clear();  // request finished
  guard::RequestContext c4(req, a);
  c4.client = c1.client;
  EXPECT_FALSE(g.check(c4));
  c2.holds.clear();
  c4.holds.clear();
  other.holds.clear();
  EXPECT_EQ(g.tracked_clients(), 0u) << "no state left behind for clients that went away";
}

TEST(SecurityHeaders, SeedSetAndHstsOnlyOverTls) {
  guard::SecurityHeaders h(core::SecurityHeadersConfig{});
  net::Response plain, tls;
  plain.set(net::http::field::server, "leaky/1.0");
  h.apply(plain, false);
  h.apply(tls, true);
  EXPECT_EQ(plain[net::http::field::x_frame_options], "SAMEORIGIN");
  EXPECT_EQ(plain["X-Content-Type-Options"], "nosniff");
  EXPECT_EQ(plain["Referrer-Policy"], "strict-origin-when-cross-origin");
  EXPECT_EQ(plain["Content-Security-Policy"],
            "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'");
  EXPECT_EQ(plain.count("Strict-Transport-Security"), 0u);
  EXPECT_EQ(plain.count(net::http::field::server), 0u);
  EXPECT_EQ(tls["Strict-Transport-Security"], "max-age=31536000; includeSubDomains");
  core::SecurityHeadersConfig off;
  off.x_frame_options.clear();
  guard::SecurityHeaders none(off);
  net::Response r;
  none.apply(r, true);
  EXPECT_EQ(r.count(net::http::field::x_frame_options), 0u);
}

TEST(GuardChain, RejectionHeadersReachTheReply) {
  guard::RejectionCounters counters;
  auto res = guard::reject({net::http::status::too_many_requests, "rate_limited", "slow down", {{"Retry-After", "6"}}},
                           counters);
  EXPECT_EQ(res["Retry-After"], "6");
}

namespace {
// A tokens-only authenticator over a store parsed from `lines` (what a reload of the file builds).
std::shared_ptr<const guard::Authenticators> tokens_only(const std::string& lines) {
  auto loaded = guard::auth::TokenStore::parse(lines, "tokens");
  EXPECT_TRUE(loaded.ok());
  auto a = std::make_shared<guard::Authenticators>();
  a->tokens = std::move(loaded.store);
  return a;
}
std::optional<guard::Rejection> check_auth(const guard::AuthGuard& g, const char* target, const std::string& authorization,
                                           guard::Caller* caller = nullptr) {
  net::Request r{net::http::verb::post, target, 11};
  if (!authorization.empty()) r.set(net::http::field::authorization, authorization);
  net::ConnectionInfo c;
  guard::RequestContext ctx(r, c);
  ctx.path = target;
  auto out = g.check(ctx);
  if (caller) *caller = ctx.caller;
  return out;
}
}  // namespace

// Bastion tokens alone are checked inline (no coroutine per request), with every answer the
// asynchronous path gives; a store reloaded without the token refuses it at once.
TEST(AuthGuard, TokensAloneAreCheckedSynchronouslyAndRevokedByReload) {
  auto created = guard::auth::create_token("alice", {}, {"demo__echo"});
  ASSERT_TRUE(created);
  auto other = guard::auth::create_token("bob", {}, {});
  ASSERT_TRUE(other);
  const auto alice_line = guard::auth::serialize_token_entry(created->entry) + "\n";
  const auto bob_line = guard::auth::serialize_token_entry(other->entry) + "\n";
  guard::AuthGuard g(tokens_only(alice_line + bob_line));
  EXPECT_FALSE(g.asynchronous());

  guard::Caller caller;
  EXPECT_FALSE(check_auth(g, "/mcp/echo", "Bearer " + created->token, &caller));
  EXPECT_TRUE(caller.authenticated);
  EXPECT_EQ(caller.name, "alice");
  EXPECT_EQ(caller.kind, "token");
  EXPECT_EQ(caller.tools, std::vector<std::string>{"demo__echo"});

  auto reason = [&](const char* target, const std::string& authorization) {
    auto r = check_auth(g, target, authorization);
    return r ? r->reason : std::string("admitted");
  };
  EXPECT_EQ(reason("/mcp", ""), "auth_missing_token");
  EXPECT_EQ(reason("/mcp", "Bearer "), "auth_invalid_request");
  EXPECT_EQ(reason("/mcp", "Basic dXNlcjpwYXNz"), "auth_invalid_request");
  EXPECT_EQ(reason("/mcp", "Bearer " + created->token + "x"), "auth_invalid_token");
  EXPECT_EQ(reason("/mcp", "Bearer eyJ.a.b"), "auth_invalid_token") << "no JWT verifier configured";
  // Same id, another token's secret: the hash comparison refuses it.
  const auto forged = created->token.substr(0, created->token.rfind('_') + 1) +
                      other->token.substr(other->token.rfind('_') + 1);
  EXPECT_EQ(reason("/mcp", "Bearer " + forged), "auth_invalid_token");
  EXPECT_EQ(reason("/healthz", ""), "admitted") << "only MCP endpoints need credentials";
  auto r = check_auth(g, "/mcp", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, net::http::status::unauthorized);
  ASSERT_FALSE(r->headers.empty());
  EXPECT_EQ(r->headers[0].first, "WWW-Authenticate");

  // The tokens file reloaded without alice: the guard built from it refuses her, bob still passes.
  guard::AuthGuard reloaded(tokens_only(bob_line));
  EXPECT_EQ(check_auth(reloaded, "/mcp", "Bearer " + created->token)->reason, "auth_invalid_token");
  EXPECT_FALSE(check_auth(reloaded, "/mcp", "Bearer " + other->token));
}
