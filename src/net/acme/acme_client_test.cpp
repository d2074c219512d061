// Pure parts of the ACME client, and nonce handling against a scripted loopback server; the
// whole protocol is exercised against Pebble in acme_pebble_test.
#include "net/acme/acme_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <mutex>
#include <thread>

#include "net/server/http_server.hpp"

namespace bastion::net::acme {
namespace {

using namespace std::chrono_literals;

TEST(Directory, ParsesRequiredUrls) {
  auto d = parse_directory(R"({"newNonce":"https://ca/nonce","newAccount":"https://ca/acct",
    "newOrder":"https://ca/order","revokeCert":"https://ca/revoke","keyChange":"https://ca/kc",
    "meta":{"termsOfService":"https://ca/tos"}})");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->new_nonce, "https://ca/nonce");
  EXPECT_EQ(d->new_order, "https://ca/order");
  EXPECT_EQ(d->terms_of_service, "https://ca/tos");
  EXPECT_FALSE(parse_directory(R"({"newNonce":"x"})"));
  EXPECT_FALSE(parse_directory("[]"));
  EXPECT_FALSE(parse_directory("not json"));
}

TEST(Problem, CarriesTypeDetailAndSubproblems) {
  auto p = parse_problem(R"({"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"no",
    "status":400,"subproblems":[{"type":"x","detail":"bad name a.test"}]})", 400);
  EXPECT_EQ(p.kind, AcmeError::Kind::problem);
  EXPECT_EQ(p.type, "urn:ietf:params:acme:error:rejectedIdentifier");
  EXPECT_EQ(p.detail, "no; bad name a.test");
  EXPECT_EQ(p.http_status, 400u);
  EXPECT_NE(p.message().find("rejectedIdentifier"), std::string::npos);

  auto bad_nonce = parse_problem(R"({"type":"urn:ietf:params:acme:error:badNonce","detail":"stale"})", 400);
  EXPECT_EQ(bad_nonce.type, kProblemBadNonce);

  auto html = parse_problem("<html>502</html>", 502);
  EXPECT_EQ(html.kind, AcmeError::Kind::problem);
  EXPECT_TRUE(html.type.empty());
  EXPECT_EQ(html.http_status, 502u);
}

TEST(RetryAfter, SecondsAndHttpDate) {
  auto now = std::chrono::system_clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(parse_retry_after("120", now), 120s);
  EXPECT_EQ(parse_retry_after(" 3 ", now), 3s);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now), 30s);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now), 0s);  // in the past
  EXPECT_FALSE(parse_retry_after("", now));
  EXPECT_FALSE(parse_retry_after("12abc", now));
  EXPECT_FALSE(parse_retry_after("-5", now));
  EXPECT_FALSE(parse_retry_after("tomorrow", now));
}

TEST(AcmeError, MessageNamesKind) {
  AcmeError e;
  e.kind = AcmeError::Kind::timeout;
  e.detail = "still pending";
  EXPECT_EQ(e.message(), "timeout: still pending");
}

// A scripted ACME server: directory, HEAD newNonce, and a newAccount that answers badNonce for
// the first `bad_nonces` requests. Checks that every JWS carries the nonce it handed out last.
class ScriptedAcme {
 public:
  explicit ScriptedAcme(int bad_nonces) : bad_nonces_(bad_nonces) {
    server_ = std::make_shared<net::HttpServer>(
        ioc_, "scripted-acme", net::ServerLimits{},
        [this](net::Request& req, net::ResponseWriter& w, const net::ConnectionInfo&) -> boost::asio::awaitable<void> {
          co_await w.send(handle(req));
        });
    auto ep = server_->bind("127.0.0.1:0");
    EXPECT_TRUE(ep);
    base_ = "http://127.0.0.1:" + std::to_string(ep->port());
    server_->start();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~ScriptedAcme() {
    auto done = boost::asio::co_spawn(ioc_, server_->shutdown(std::chrono::milliseconds(100)), boost::asio::use_future);
    done.wait_for(5s);
    ioc_.stop();
    thread_.join();
  }
  std::string directory_url() const { return base_ + "/dir"; }
  int account_posts() const { return account_posts_; }
  int nonce_mismatches() const { return nonce_mismatches_; }
  boost::asio::io_context& ioc() { return ioc_; }

 private:
  net::Response handle(net::Request& req) {
    namespace http = net::http;
    std::lock_guard lock(mutex_);
    net::Response res{http::status::ok, req.version()};
    auto fresh_nonce = [&] {
      last_nonce_ = "nonce" + std::to_string(++nonce_counter_);
      res.set("Replay-Nonce", last_nonce_);
    };
    if (req.target() == "/dir") {
      res.set(http::field::content_type, "application/json");
      res.body() = R"({"newNonce":")" + base_ + R"(/nonce","newAccount":")" + base_ + R"(/acct","newOrder":")" +
                   base_ + R"(/order"})";
    } else if (req.target() == "/nonce") {
      fresh_nonce();
    } else if (req.target() == "/acct" && req.method() == http::verb::post) {
      ++account_posts_;
      auto jws = boost::json::parse(req.body()).as_object();
      auto header = boost::json::parse(*base64url_decode(jws.at("protected").as_string())).as_object();
      if (header.at("nonce").as_string() != last_nonce_) ++nonce_mismatches_;
      fresh_nonce();
      res.set(http::field::content_type, "application/json");
      if (bad_nonces_-- > 0) {
        res.result(http::status::bad_request);
        res.set(http::field::content_type, "application/problem+json");
        res.body() = R"({"type":"urn:ietf:params:acme:error:badNonce","detail":"stale nonce"})";
      } else {
        res.result(http::status::created);
        res.set(http::field::location, base_ + "/acct/1");
        res.body() = R"({"status":"valid"})";
      }
    } else {
      res.result(http::status::not_found);
    }
    return res;
  }

  boost::asio::io_context ioc_;
  std::shared_ptr<net::HttpServer> server_;
  std::thread thread_;
  std::string base_;
  std::mutex mutex_;
  int bad_nonces_;
  int nonce_counter_ = 0;
  std::string last_nonce_;
  std::atomic<int> account_posts_{0};
  std::atomic<int> nonce_mismatches_{0};
};

AcmeResult<std::string> register_account(ScriptedAcme& server) {
  boost::asio::io_context ioc;
  auto strand = boost::asio::make_strand(ioc);
  auto pool = client::HttpClientPool::create(strand, {});
  EXPECT_TRUE(pool);
  AcmeClientOptions options;
  options.directory_url = server.directory_url();
  options.request_timeout = 5s;
  auto key = EcKey::generate();
  auto client = std::make_shared<AcmeClient>(*pool, options, std::move(*key));
  auto fut = boost::asio::co_spawn(
      strand, [client]() { return client->ensure_account({"ops@example.test"}); }, boost::asio::use_future);
  ioc.run_for(10s);
  EXPECT_EQ(fut.wait_for(0s), std::future_status::ready);
  return fut.get();
}

TEST(AcmeClientNonce, RetriesOnceOnBadNonceWithTheFreshNonce) {
  ScriptedAcme server(1);
  auto account = register_account(server);
  ASSERT_TRUE(account) << account.error().message();
  EXPECT_EQ(*account, server.directory_url().substr(0, server.directory_url().size() - 4) + "/acct/1");
  EXPECT_EQ(server.account_posts(), 2);
  EXPECT_EQ(server.nonce_mismatches(), 0);  // the retry used the nonce from the badNonce reply
}

TEST(AcmeClientNonce, GivesUpAfterOneRetry) {
  ScriptedAcme server(5);
  auto account = register_account(server);
  ASSERT_FALSE(account);
  EXPECT_EQ(account.error().kind, AcmeError::Kind::problem);
  EXPECT_EQ(account.error().type, kProblemBadNonce);
  EXPECT_EQ(account.error().detail, "stale nonce");
  EXPECT_EQ(account.error().http_status, 400u);
  EXPECT_EQ(server.account_posts(), 2);
}

}  // namespace
}  // namespace bastion::net::acme
