// Integration tests for AuthRequestClient (and JwksCache::from_url) against a small real HTTP
// auth service: a Beast server on 127.0.0.1:0 running on its own thread, counting calls.
#include "guard/auth/auth_request.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <mutex>
#include <thread>

#include "guard/auth/jwks_cache.hpp"
#include "guard/auth/jwt_test_signer.hpp"
#include "net/client/http_client.hpp"

namespace bastion::guard::auth {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

// The auth service: decides by the Authorization header, like a typical nginx auth backend.
//   "Bearer good"      -> 200 X-Auth-User: alice
//   "Bearer anonymous" -> 204 without a user header
//   "Bearer forbidden" -> 403
//   "Bearer boom"      -> 500
//   anything else      -> 401 with WWW-Authenticate
// GET /jwks answers `jwks` (or 500 when empty).
class AuthService {
 public:
  AuthService() : acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~AuthService() {
    ioc_.stop();
    thread_.join();
  }
  std::string url(std::string_view path = "/auth") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  int calls() const { return calls_.load(); }
  http::request<http::string_body> last_request() const {
    std::lock_guard lock(mutex_);
    return last_;
  }
  void set_jwks(std::string body) {
    std::lock_guard lock(mutex_);
    jwks_ = std::move(body);
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kTok);
      if (ec) co_return;
      asio::co_spawn(ioc_, session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      auto [ec, n] = co_await http::async_read(socket, buffer, req, kTok);
      if (ec) co_return;
      ++calls_;
      http::response<http::string_body> res{http::status::ok, req.version()};
      {
        std::lock_guard lock(mutex_);
        last_ = req;
        if (req.target() == "/jwks") {
          if (jwks_.empty()) res.result(http::status::internal_server_error);
          res.set(http::field::content_type, "application/json");
          res.body() = jwks_;
        }
      }
      if (req.target() != "/jwks") {
        const auto auth = req[http::field::authorization];
        if (auth == "Bearer good") {
          res.set("X-Auth-User", "alice");
        } else if (auth == "Bearer anonymous") {
          res.result(http::status::no_content);
        } else if (auth == "Bearer forbidden") {
          res.result(http::status::forbidden);
          res.body() = "no";
        } else if (auth == "Bearer boom") {
          res.result(http::status::internal_server_error);
          res.body() = "crash";
        } else {
          res.result(http::status::unauthorized);
          res.set(http::field::www_authenticate, "Bearer realm=\"test\"");
        }
      }
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(socket, res, kTok);
      if (wec || !res.keep_alive()) co_return;
    }
  }

  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::thread thread_;
  std::atomic<int> calls_{0};
  mutable std::mutex mutex_;
  http::request<http::string_body> last_;
  std::string jwks_;
};

// Client side: one io_context on the test thread.
struct ClientSide {
  asio::io_context ioc;
  std::shared_ptr<net::client::HttpClientPool> pool = net::client::HttpClientPool::create(ioc.get_executor()).value();

  template <typename T>
  T run(asio::awaitable<T> aw) {
    auto fut = asio::co_spawn(ioc, std::move(aw), asio::use_future);
    ioc.restart();
    ioc.run();
    return fut.get();
  }
};

http::fields headers_with(std::string authorization) {
  http::fields f;
  if (!authorization.empty()) f.set(http::field::authorization, authorization);
  return f;
}

TEST(AuthRequest, AllowsAndForwardsTheRightHeaders) {
  AuthService service;
  ClientSide client;
  AuthRequestClient auth(client.pool, {.url = service.url()});
  http::fields h;
  h.set(http::field::authorization, "Bearer good");
  h.set(http::field::host, "bastion.example.com");
  h.set(http::field::content_type, "application/json");
  h.set(http::field::content_length, "42");
  h.set(http::field::connection, "keep-alive, X-Secret-Hop");
  h.set("X-Secret-Hop", "1");
  h.set(http::field::upgrade, "websocket");
  h.set("X-Original-URI", "/spoofed");
  h.insert(http::field::cookie, "a=1");
  h.insert(http::field::cookie, "b=2");
  h.set("Mcp-Session-Id", "s-1");
  auto d = client.run(auth.check("POST", "/mcp/demo?x=1", h));
  EXPECT_EQ(d.outcome, AuthRequestOutcome::allow);
  EXPECT_EQ(d.status, 200u);
  ASSERT_TRUE(d.principal);
  EXPECT_EQ(d.principal->name, "alice");
  EXPECT_EQ(d.principal->kind, "auth_request");
  EXPECT_FALSE(d.cached);

  const auto seen = service.last_request();
  EXPECT_EQ(seen.method(), http::verb::get);
  EXPECT_EQ(seen.target(), "/auth");
  EXPECT_EQ(seen.body(), "");
  EXPECT_EQ(seen["X-Original-URI"], "/mcp/demo?x=1");
  EXPECT_EQ(seen["X-Original-Method"], "POST");
  EXPECT_EQ(seen[http::field::authorization], "Bearer good");
  EXPECT_EQ(seen[http::field::cookie], "a=1; b=2");
  EXPECT_EQ(seen["Mcp-Session-Id"], "s-1");
  EXPECT_EQ(seen[http::field::host], "127.0.0.1:" + service.url().substr(17, service.url().find('/', 17) - 17));
  EXPECT_EQ(seen.count(http::field::content_type), 0u);
  EXPECT_EQ(seen.count("X-Secret-Hop"), 0u);
  EXPECT_EQ(seen.count(http::field::upgrade), 0u);
  EXPECT_EQ(seen.count("X-Original-URI"), 1u);
}

TEST(AuthRequest, DeniesWithTheServiceStatus) {
  AuthService service;
  ClientSide client;
  AuthRequestClient auth(client.pool, {.url = service.url()});
  auto d = client.run(auth.check("POST", "/mcp", headers_with("Bearer bad")));
  EXPECT_EQ(d.outcome, AuthRequestOutcome::deny);
  EXPECT_EQ(d.status, 401u);
  EXPECT_EQ(d.www_authenticate, "Bearer realm=\"test\"");
  EXPECT_FALSE(d.principal);
  d = client.run(auth.check("POST", "/mcp", headers_with("Bearer forbidden")));
  EXPECT_EQ(d.outcome, AuthRequestOutcome::deny);
  EXPECT_EQ(d.status, 403u);
  d = client.run(auth.check("POST", "/mcp", headers_with("")));  // no credentials at all
  EXPECT_EQ(d.status, 401u);
  d = client.run(auth.check("POST", "/mcp", headers_with("Bearer anonymous")));
  EXPECT_EQ(d.outcome, AuthRequestOutcome::allow);
  EXPECT_EQ(d.status, 204u);
  EXPECT_EQ(d.principal->name, "auth_request");
}

TEST(AuthRequest, ServiceErrorsAreErrorsAndNotCached) {
  AuthService service;
  ClientSide client;
  AuthRequestClient auth(client.pool, {.url = service.url()});
  for (int i = 1; i <= 2; ++i) {
    auto d = client.run(auth.check("POST", "/mcp", headers_with("Bearer boom")));
    EXPECT_EQ(d.outcome, AuthRequestOutcome::error);
    EXPECT_EQ(d.status, 500u);
    EXPECT_FALSE(d.error.empty());
    EXPECT_EQ(service.calls(), i);
  }
  EXPECT_EQ(auth.cache_size(), 0u);
  EXPECT_EQ(auth.stats().errors, 2u);
}

TEST(AuthRequest, CacheHitsSkipTheService) {
  AuthService service;
  ClientSide client;
  auto now = std::make_shared<AuthRequestClient::Clock::time_point>(AuthRequestClient::Clock::now());
  AuthRequestClient auth(client.pool, {.url = service.url()}, [now] { return *now; });

  auto d = client.run(auth.check("POST", "/mcp", headers_with("Bearer good")));
  ASSERT_EQ(d.outcome, AuthRequestOutcome::allow);
  EXPECT_EQ(service.calls(), 1);
  d = client.run(auth.check("POST", "/mcp", headers_with("Bearer good")));
  EXPECT_EQ(d.outcome, AuthRequestOutcome::allow);
  EXPECT_TRUE(d.cached);
  EXPECT_EQ(d.principal->name, "alice");
  EXPECT_EQ(service.calls(), 1);
  // Denials are cached too.
  client.run(auth.check("POST", "/mcp", headers_with("Bearer bad")));
  d = client.run(auth.check("POST", "/mcp", headers_with("Bearer bad")));
  EXPECT_TRUE(d.cached);
  EXPECT_EQ(d.status, 401u);
  EXPECT_EQ(service.calls(), 2);
  // Another URI is another question.
  client.run(auth.check("POST", "/mcp/other", headers_with("Bearer good")));
  EXPECT_EQ(service.calls(), 3);
  // Without Authorization nothing identifies the caller: never cached.
  client.run(auth.check("POST", "/mcp", headers_with("")));
  client.run(auth.check("POST", "/mcp", headers_with("")));
  EXPECT_EQ(service.calls(), 5);
  // After the TTL the service is asked again.
  *now += 6s;
  d = client.run(auth.check("POST", "/mcp", headers_with("Bearer good")));
  EXPECT_FALSE(d.cached);
  EXPECT_EQ(service.calls(), 6);
  EXPECT_EQ(auth.stats().cache_hits, 2u);
}

TEST(AuthRequest, CacheIsBounded) {
  AuthService service;
  ClientSide client;
  AuthRequestClient auth(client.pool, {.url = service.url(), .cache_max_entries = 3});
  for (int i = 0; i < 10; ++i) {
    client.run(auth.check("POST", "/mcp", headers_with("Bearer other-" + std::to_string(i))));
    EXPECT_LE(auth.cache_size(), 3u);
  }
  EXPECT_EQ(service.calls(), 10);
}

TEST(AuthRequest, DeadServiceIsAnErrorWithinTheTimeout) {
  ClientSide client;
  // Nothing listens on this port (bound, then closed).
  std::string refused_url;
  {
    tcp::acceptor probe(client.ioc, {asio::ip::make_address("127.0.0.1"), 0});
    refused_url = "http://127.0.0.1:" + std::to_string(probe.local_endpoint().port()) + "/auth";
  }
  AuthRequestClient refused(client.pool, {.url = refused_url, .timeout = 500ms});
  auto start = std::chrono::steady_clock::now();
  auto d = client.run(refused.check("POST", "/mcp", headers_with("Bearer good")));
  EXPECT_EQ(d.outcome, AuthRequestOutcome::error);
  EXPECT_EQ(d.status, 500u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);

  // A service that accepts connections but never answers.
  tcp::acceptor black_hole(client.ioc, {asio::ip::make_address("127.0.0.1"), 0});
  black_hole.listen();
  AuthRequestClient silent(
      client.pool,
      {.url = "http://127.0.0.1:" + std::to_string(black_hole.local_endpoint().port()) + "/auth",
       .timeout = 300ms});
  start = std::chrono::steady_clock::now();
  d = client.run(silent.check("POST", "/mcp", headers_with("Bearer good")));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(d.outcome, AuthRequestOutcome::error);
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 1500ms);
  EXPECT_EQ(silent.cache_size(), 0u);
}

TEST(AuthSubrequestHeaders, DropsHopByHopAndBodyHeaders) {
  http::fields h;
  h.set(http::field::transfer_encoding, "chunked");
  h.set(http::field::te, "trailers");
  h.set(http::field::proxy_authorization, "Basic x");
  h.set(http::field::expect, "100-continue");
  h.set("X-Original-Method", "GET");
  h.set(http::field::accept, "application/json");
  h.insert(http::field::accept, "text/event-stream");
  auto out = auth_subrequest_headers("DELETE", "/mcp", h);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].first, "Accept");
  EXPECT_EQ(out[0].second, "application/json, text/event-stream");
  EXPECT_EQ(out[1], (std::pair<std::string, std::string>{"X-Original-URI", "/mcp"}));
  EXPECT_EQ(out[2], (std::pair<std::string, std::string>{"X-Original-Method", "DELETE"}));
}

TEST(JwksCacheUrl, FetchesRotatesAndKeepsOldSetOnFailure) {
  AuthService service;
  ClientSide client;
  auto k1 = testing::make_ec_key("k1");
  auto k2 = testing::make_ed25519_key("k2");
  service.set_jwks(testing::jwks_json({&k1}));
  auto cache = JwksCache::from_url(client.pool, service.url("/jwks"), {.min_refresh_interval = 0s});
  ASSERT_EQ(client.run(cache->refresh()), "");
  EXPECT_EQ(service.calls(), 1);
  EXPECT_EQ(cache->current()->size(), 1u);
  EXPECT_EQ(service.last_request().method(), http::verb::get);

  JwtVerifier verifier{.issuer = "iss", .audience = "aud"};
  boost::json::object claims{{"iss", "iss"}, {"aud", "aud"}, {"sub", "u"}, {"exp", 4'000'000'000}};
  // Unknown kid -> one refetch -> the rotated key verifies.
  service.set_jwks(testing::jwks_json({&k1, &k2}));
  auto r = client.run(cache->verify(verifier, testing::sign_jwt(k2, claims), std::chrono::system_clock::now()));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(service.calls(), 2);

  service.set_jwks("");  // IdP answers 500
  EXPECT_NE(client.run(cache->refresh()), "");
  EXPECT_EQ(cache->current()->size(), 2u);
  r = client.run(cache->verify(verifier, testing::sign_jwt(k1, claims), std::chrono::system_clock::now()));
  EXPECT_TRUE(r.has_value());
}

}  // namespace
}  // namespace bastion::guard::auth
