// End to end against Pebble, started by tests/services/pebble.sh: a real net::HttpServer answers
// HTTP-01 from the ChallengeStore, CertificateManager obtains, stores, renews, and survives a
// failing validation with backoff.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "net/acme/atomic_file.hpp"
#include "net/acme/certificate_manager.hpp"
#include "net/client/http_client.hpp"
#include "net/server/http_server.hpp"

namespace bastion::net::acme {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string require_env(const char* name) {
  const char* value = std::getenv(name);
  // Fail, never skip: without Pebble this test proves nothing (run it through pebble.sh / ctest).
  if (value == nullptr || *value == '\0') {
    ADD_FAILURE() << name << " is not set; run this test through tests/services/pebble.sh";
    return {};
  }
  return value;
}

unsigned file_mode(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777;
}

// Collects callbacks and attempts from the manager's strand for the test thread.
struct Events {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::pair<fs::path, fs::path>> certificates;
  std::vector<AcmeStatus> attempts;

  template <class Pred>
  bool wait(Pred pred, std::chrono::seconds timeout) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, timeout, [&] { return pred(); });
  }
};

// The lead's HTTP listener in miniature: answers ACME challenges from the store, 404 otherwise.
net::Handler challenge_handler(std::shared_ptr<ChallengeStore> store, std::shared_ptr<std::atomic<int>> served) {
  return [store, served](net::Request& req, net::ResponseWriter& writer,
                         const net::ConnectionInfo&) -> asio::awaitable<void> {
    std::optional<std::string> answer;
    if (req.method() == net::http::verb::get) answer = store->answer(req.target());
    if (!answer) {
      co_await writer.send(net::text_response(net::http::status::not_found, "not found", req.version()));
      co_return;
    }
    ++*served;
    net::Response res{net::http::status::ok, req.version()};
    res.set(net::http::field::content_type, "application/octet-stream");
    res.body() = std::move(*answer);
    co_await writer.send(std::move(res));
  };
}

class AcmePebbleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = require_env("BASTION_TEST_PEBBLE_DIR");
    ca_file_ = require_env("BASTION_TEST_PEBBLE_CA");
    mgmt_ = require_env("BASTION_TEST_PEBBLE_MGMT");
    http_port_ = require_env("BASTION_TEST_ACME_HTTP_PORT");
    ASSERT_FALSE(directory_.empty() || ca_file_.empty() || mgmt_.empty() || http_port_.empty());
    data_dir_ = fs::temp_directory_path() / ("acme_pebble_test_" + std::to_string(::getpid()));
    fs::remove_all(data_dir_);
    thread_ = std::thread([this] { ioc_.run(); });
  }

  void TearDown() override {
    if (server_) stop_server();
    work_.reset();
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
    fs::remove_all(data_dir_);
  }

  void start_server() {
    server_ = std::make_shared<net::HttpServer>(ioc_, "acme-http", net::ServerLimits{},
                                                challenge_handler(store_, served_));
    auto bound = server_->bind("127.0.0.1:" + http_port_);
    ASSERT_TRUE(bound) << bound.error().message();
    server_->start();
  }

  void stop_server() {
    auto done = asio::co_spawn(ioc_, server_->shutdown(1s), asio::use_future);
    ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
    server_.reset();
  }

  AcmeConfig config() const {
    AcmeConfig c;
    c.directory_url = directory_;
    c.email = "ops@example.test";
    c.domains = {"example.test", "www.example.test"};
    c.ca_file = ca_file_;
    c.data_dir = data_dir_;
    c.retry_initial = 300ms;
    c.retry_max = 2s;
    c.poll_interval = 100ms;
    c.max_polls = 100;
    c.request_timeout = 10s;
    c.connect_timeout = 5s;
    return c;
  }

  std::shared_ptr<CertificateManager> make_manager(Events& events) {
    auto created = CertificateManager::create(
        config(), store_, [&events](const fs::path& cert, const fs::path& key) {
          std::lock_guard lock(events.mutex);
          events.certificates.emplace_back(cert, key);
          events.cv.notify_all();
        });
    EXPECT_TRUE(created) << (created ? "" : created.error());
    if (!created) return nullptr;
    (*created)->set_attempt_listener([&events](const AcmeStatus& s) {
      std::lock_guard lock(events.mutex);
      events.attempts.push_back(s);
      events.cv.notify_all();
    });
    return *created;
  }

  void stop_manager(const std::shared_ptr<CertificateManager>& manager, std::future<void>& exited) {
    manager->stop();
    ASSERT_EQ(exited.wait_for(10s), std::future_status::ready);
    EXPECT_FALSE(manager->status().running);
  }

  // GET from Pebble's management API (its own TLS CA).
  std::string fetch_mgmt(const std::string& path) {
    auto strand = asio::make_strand(ioc_);
    client::PoolOptions options;
    options.ca_file = ca_file_;
    auto pool = client::HttpClientPool::create(strand, options);
    EXPECT_TRUE(pool);
    if (!pool) return {};
    client::HttpRequest req;
    req.url = mgmt_ + path;
    req.deadline = std::chrono::steady_clock::now() + 10s;
    auto fut = asio::co_spawn(strand, (*pool)->fetch(std::move(req)), asio::use_future);
    if (fut.wait_for(15s) != std::future_status::ready) return {};
    auto res = fut.get();
    EXPECT_TRUE(res) << (res ? "" : res.error().message());
    if (!res) return {};
    EXPECT_EQ(res->status, 200u) << path;
    return res->body;
  }

  // X509_verify_cert of the leaf against Pebble's root, with the served chain and Pebble's
  // current intermediate as untrusted intermediates.
  void expect_chains_to_pebble(const std::string& chain_pem) {
    auto root_pem = fetch_mgmt("/roots/0");
    auto intermediate_pem = fetch_mgmt("/intermediates/0");
    ASSERT_FALSE(root_pem.empty());
    ASSERT_FALSE(intermediate_pem.empty());
    auto read = [](const std::string& pem) {
      std::vector<X509*> out;
      BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
      while (X509* c = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) out.push_back(c);
      BIO_free(bio);
      return out;
    };
    auto chain = read(chain_pem);
    auto roots = read(root_pem);
    auto intermediates = read(intermediate_pem);
    ASSERT_GE(chain.size(), 2u);  // leaf + intermediate
    ASSERT_EQ(roots.size(), 1u);
    X509_STORE* trust = X509_STORE_new();
    X509_STORE_add_cert(trust, roots[0]);
    STACK_OF(X509)* untrusted = sk_X509_new_null();
    for (std::size_t i = 1; i < chain.size(); ++i) sk_X509_push(untrusted, chain[i]);
    for (auto* c : intermediates) sk_X509_push(untrusted, c);
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, trust, chain[0], untrusted);
    int ok = X509_verify_cert(ctx);
    EXPECT_EQ(ok, 1) << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
    // The served intermediate is the one the management API reports.
    EXPECT_EQ(X509_cmp(chain[1], intermediates.at(0)), 0);
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    X509_STORE_free(trust);
    for (auto* c : chain) X509_free(c);
    for (auto* c : roots) X509_free(c);
    for (auto* c : intermediates) X509_free(c);
  }

  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
  std::thread thread_;
  std::shared_ptr<ChallengeStore> store_ = std::make_shared<ChallengeStore>();
  std::shared_ptr<std::atomic<int>> served_ = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<net::HttpServer> server_;
  std::string directory_, ca_file_, mgmt_, http_port_;
  fs::path data_dir_;
};

TEST_F(AcmePebbleTest, IssuesRenewsRetriesAndReusesStoredCertificate) {
  ASSERT_NO_FATAL_FAILURE(start_server());
  Events events;
  auto manager = make_manager(events);
  ASSERT_TRUE(manager);
  std::promise<void> exit_promise;
  auto exited = exit_promise.get_future();
  const auto t0 = std::chrono::steady_clock::now();
  manager->start(ioc_.get_executor(), [&exit_promise] { exit_promise.set_value(); });

  // 1. First issuance.
  ASSERT_TRUE(events.wait([&] { return events.certificates.size() >= 1; }, 30s))
      << "no certificate; last error: " << manager->status().last_error;
  const auto [cert1, key1] = events.certificates.at(0);
  // The callback runs before the manager schedules its next attempt: wait for the schedule.
  // (status has no notification: poll it, bounded)
  for (int i = 0; i < 1000 && !manager->status().next_attempt; ++i) std::this_thread::sleep_for(10ms);
  auto status = manager->status();
  EXPECT_TRUE(status.running);
  EXPECT_TRUE(status.last_success.has_value());
  EXPECT_TRUE(status.last_error.empty());
  EXPECT_EQ(status.certificates_issued, 1u);
  EXPECT_EQ(status.cert_path, cert1);
  ASSERT_TRUE(status.not_after && status.renewal_at && status.next_attempt);
  EXPECT_GT(*status.renewal_at, std::chrono::system_clock::now());
  EXPECT_LT(*status.renewal_at, *status.not_after);
  EXPECT_GE(served_->load(), 2);       // one HTTP-01 validation per domain
  EXPECT_EQ(store_->size(), 0u);       // tokens removed after the order

  auto chain1 = read_file_limited(cert1);
  ASSERT_TRUE(chain1);
  auto info1 = parse_certificate_pem(*chain1);
  ASSERT_TRUE(info1);
  auto sans = info1->dns_names;
  std::sort(sans.begin(), sans.end());
  EXPECT_EQ(sans, (std::vector<std::string>{"example.test", "www.example.test"}));
  EXPECT_EQ(status.serial_hex, info1->serial_hex);
  auto key = EcKey::load(key1);
  ASSERT_TRUE(key);
  EXPECT_TRUE(key_matches_certificate(*key, *chain1));
  ASSERT_NO_FATAL_FAILURE(expect_chains_to_pebble(*chain1));

  const auto dir = data_dir_ / "acme" / "example.test";
  EXPECT_EQ(file_mode(dir / "account.key"), 0600u);
  EXPECT_EQ(file_mode(cert1), 0600u);
  EXPECT_EQ(file_mode(key1), 0600u);
  EXPECT_EQ(file_mode(dir), 0700u);
  EXPECT_EQ(file_mode(cert1.parent_path()), 0700u);
  EXPECT_EQ(fs::canonical(dir / "current"), cert1.parent_path());

  // 2. Renewal (forced past the renewal point): a new certificate, a new key, a new generation.
  manager->renew_now();
  ASSERT_TRUE(events.wait([&] { return events.certificates.size() >= 2; }, 30s))
      << "no renewal; last error: " << manager->status().last_error;
  const auto [cert2, key2] = events.certificates.at(1);
  EXPECT_NE(cert2.parent_path(), cert1.parent_path());
  auto info2 = parse_certificate_pem(*read_file_limited(cert2));
  ASSERT_TRUE(info2);
  EXPECT_NE(info2->serial_hex, info1->serial_hex);
  EXPECT_EQ(manager->status().certificates_issued, 2u);
  EXPECT_EQ(fs::canonical(dir / "current"), cert2.parent_path());
  EXPECT_TRUE(fs::exists(cert1));  // the previous generation stays for readers in flight
  auto key2_loaded = EcKey::load(key2);
  ASSERT_TRUE(key2_loaded);
  EXPECT_NE(jwk_thumbprint(*key2_loaded), jwk_thumbprint(*key));
  // The account was reused: still exactly one account key file, unchanged.
  EXPECT_EQ(file_mode(dir / "account.key"), 0600u);

  // 3. Failure: nobody answers HTTP-01, so Pebble's validation fails. Retried with backoff,
  // reported in status, no crash, no callback.
  ASSERT_NO_FATAL_FAILURE(stop_server());
  std::size_t attempts_before = 0;
  {
    std::lock_guard lock(events.mutex);
    attempts_before = events.attempts.size();
  }
  manager->renew_now();
  ASSERT_TRUE(events.wait([&] { return events.attempts.size() >= attempts_before + 3; }, 30s))
      << "no retries; last error: " << manager->status().last_error;
  std::vector<AcmeStatus> failures;
  {
    std::lock_guard lock(events.mutex);
    failures.assign(events.attempts.begin() + static_cast<long>(attempts_before), events.attempts.end());
    EXPECT_EQ(events.certificates.size(), 2u);
  }
  for (std::size_t i = 0; i < failures.size(); ++i) {
    EXPECT_EQ(failures[i].consecutive_failures, i + 1);
    EXPECT_NE(failures[i].last_error.find("urn:ietf:params:acme:error:"), std::string::npos)
        << failures[i].last_error;
  }
  // Exponential backoff: 300 ms, then 600 ms between attempt starts (at least).
  auto gap1 = *failures[1].last_attempt - *failures[0].last_attempt;
  auto gap2 = *failures[2].last_attempt - *failures[1].last_attempt;
  EXPECT_GE(gap1, 300ms);
  EXPECT_GE(gap2, 600ms);
  status = manager->status();
  EXPECT_FALSE(status.last_error.empty());
  EXPECT_EQ(status.serial_hex, info2->serial_hex);  // still serving the last good certificate
  EXPECT_EQ(store_->size(), 0u);

  // ...and it recovers once the challenge listener is back.
  ASSERT_NO_FATAL_FAILURE(start_server());
  ASSERT_TRUE(events.wait([&] { return events.certificates.size() >= 3; }, 30s))
      << "no recovery; last error: " << manager->status().last_error;
  status = manager->status();
  EXPECT_TRUE(status.last_error.empty());
  EXPECT_EQ(status.consecutive_failures, 0u);
  EXPECT_EQ(status.certificates_issued, 3u);

  ASSERT_NO_FATAL_FAILURE(stop_manager(manager, exited));
  const auto last_cert = events.certificates.back().first;

  // 4. A restart serves the stored certificate at once and issues nothing (account key reused).
  Events events2;
  auto again = make_manager(events2);
  ASSERT_TRUE(again);
  std::promise<void> exit2;
  auto exited2 = exit2.get_future();
  again->start(ioc_.get_executor(), [&exit2] { exit2.set_value(); });
  ASSERT_TRUE(events2.wait([&] { return events2.certificates.size() >= 1; }, 10s));
  EXPECT_EQ(events2.certificates.at(0).first, last_cert);
  status = again->status();
  EXPECT_EQ(status.certificates_issued, 0u);
  ASSERT_TRUE(status.renewal_at);
  EXPECT_GT(*status.renewal_at, std::chrono::system_clock::now() + 24h);
  ASSERT_NO_FATAL_FAILURE(stop_manager(again, exited2));
  EXPECT_TRUE(events2.attempts.empty());

  EXPECT_LT(std::chrono::steady_clock::now() - t0, 60s);
}

TEST(AcmeConfigValidation, RejectsBadConfiguration) {
  AcmeConfig c;
  c.directory_url = "not a url";
  c.domains = {"*.example.test", "ok.test", "ok.test"};
  auto created = CertificateManager::create(c, std::make_shared<ChallengeStore>(), {});
  ASSERT_FALSE(created);
  EXPECT_NE(created.error().find("directory_url"), std::string::npos);
  EXPECT_NE(created.error().find("wildcard"), std::string::npos);
  EXPECT_NE(created.error().find("duplicate"), std::string::npos);
  EXPECT_NE(created.error().find("data directory"), std::string::npos);
}

}  // namespace
}  // namespace bastion::net::acme
