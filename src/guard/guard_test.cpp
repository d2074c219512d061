#include "guard/guard.hpp"

#include <gtest/gtest.h>

using namespace bastion;

namespace {
net::ConnectionInfo on(const char* local) {
  net::ConnectionInfo c;
  c.local = net::tcp::endpoint(boost::asio::ip::make_address(local), 8080);
  return c;
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
  EXPECT_FALSE(g.check({request("localhost:8080"), conn}));
  EXPECT_FALSE(g.check({request("127.0.0.1:8080", "http://127.0.0.1:8080"), conn}));
  EXPECT_FALSE(g.check({request("[::1]:8080", "http://localhost:3000"), conn}));
  auto r = g.check({request("evil.example.com", "http://evil.example.com"), conn});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, net::http::status::forbidden);
  EXPECT_EQ(r->reason, "host_not_allowed");
  r = g.check({request("localhost:8080", "http://evil.example.com"), conn});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "origin_not_allowed");
}

TEST(OriginGuard, ConfiguredOriginsOnPublicListener) {
  core::OriginsConfig cfg;
  cfg.allowed = {"https://app.example.com"};
  guard::OriginGuard g(cfg);
  auto conn = on("10.0.0.5");
  EXPECT_FALSE(g.check({request("mcp.example.com"), conn})) << "no Origin: not a browser";
  EXPECT_FALSE(g.check({request("mcp.example.com", "https://app.example.com"), conn}));
  EXPECT_TRUE(g.check({request("mcp.example.com", "https://evil.example.com"), conn}));
  EXPECT_TRUE(g.check({request("mcp.example.com", "http://localhost"), conn}))
      << "loopback origins are only trusted on loopback listeners";
}

TEST(GuardChain, RejectCountsByReason) {
  guard::RejectionCounters counters;
  auto res = guard::reject({net::http::status::forbidden, "origin_not_allowed", "no"}, counters);
  EXPECT_EQ(res.result(), net::http::status::forbidden);
  EXPECT_NE(res.body().find("\"code\":-32000"), std::string::npos);
  EXPECT_EQ(counters.snapshot().at("origin_not_allowed"), 1u);
}
