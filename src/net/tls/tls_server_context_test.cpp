#include "net/tls/tls_server_context.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <boost/asio/io_context.hpp>
#include <set>

#include "net/tls/test_certificates.hpp"

namespace bastion::net::tls {
namespace {

using testing::KeyType;
using testing::make_self_signed;
using testing::TempDir;
using testing::write_file_atomically;

struct Fixture : ::testing::Test {
  TempDir dir;
  TlsServerOptions options;
  void SetUp() override {
    options.cert_file = dir.file("cert.pem");
    options.key_file = dir.file("key.pem");
    install(make_self_signed("first.test", 1001));
  }
  void install(const testing::TestCertificate& c) {
    write_file_atomically(options.cert_file, c.cert_pem);
    write_file_atomically(options.key_file, c.key_pem);
  }
  ContextResult build() {
    return build_server_context(options,
                                std::make_shared<TicketKeyRing>(options.ticket_key_rotation));
  }
};

std::string serial_of(const std::shared_ptr<boost::asio::ssl::context>& ctx) {
  auto s = summarize(*ctx);
  return s ? s->serial_hex : std::string();
}

TEST_F(Fixture, DefaultOptionsBuildAHardenedContext) {
  auto result = build();
  ASSERT_TRUE(result) << result.error;
  SSL_CTX* native = result.context->native_handle();
  EXPECT_EQ(SSL_CTX_get_min_proto_version(native), TLS1_2_VERSION);
  EXPECT_EQ(SSL_CTX_get_max_proto_version(native), TLS1_3_VERSION);
  const auto opts = SSL_CTX_get_options(native);
  EXPECT_TRUE(opts & SSL_OP_NO_COMPRESSION);
  EXPECT_TRUE(opts & SSL_OP_NO_RENEGOTIATION);
  EXPECT_FALSE(opts & SSL_OP_CIPHER_SERVER_PREFERENCE);
  EXPECT_FALSE(opts & SSL_OP_NO_TICKET);
  EXPECT_EQ(SSL_CTX_get_session_cache_mode(native), SSL_SESS_CACHE_OFF);
  EXPECT_EQ(SSL_CTX_get_timeout(native), 7200);

  // Exactly the six TLS 1.2 suites and three TLS 1.3 suites are enabled.
  std::set<std::string> enabled;
  STACK_OF(SSL_CIPHER)* list = SSL_CTX_get_ciphers(native);
  for (int i = 0; i < sk_SSL_CIPHER_num(list); ++i)
    enabled.insert(SSL_CIPHER_get_name(sk_SSL_CIPHER_value(list, i)));
  EXPECT_EQ(enabled,
            (std::set<std::string>{"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
                                   "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
                                   "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
                                   "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                   "TLS_CHACHA20_POLY1305_SHA256"}));
  auto summary = summarize(*result.context);
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->serial_hex, "03E9");  // 1001
  EXPECT_NE(summary->subject.find("CN=first.test"), std::string::npos);
}

TEST_F(Fixture, TicketLifetimeNeverOutlivesTheKeyRotation) {
  options.ticket_key_rotation = std::chrono::seconds(600);
  auto result = build();
  ASSERT_TRUE(result) << result.error;
  EXPECT_EQ(SSL_CTX_get_timeout(result.context->native_handle()), 600);
}

TEST_F(Fixture, ServerPreferenceIsAnOption) {
  options.prefer_server_ciphers = true;
  auto result = build();
  ASSERT_TRUE(result) << result.error;
  EXPECT_TRUE(SSL_CTX_get_options(result.context->native_handle()) &
              SSL_OP_CIPHER_SERVER_PREFERENCE);
}

TEST_F(Fixture, RsaCertificateBuilds) {
  install(make_self_signed("rsa.test", 7, KeyType::rsa2048));
  auto result = build();
  ASSERT_TRUE(result) << result.error;
}

TEST(CipherPolicy, SeedStringNamesSuitesOpenSslDoesNotKnow) {
  TlsServerOptions o;
  o.ciphers_tls12 = "ECDHE-RSA-AES256-GCM-SHA512:DHE-RSA-AES256-GCM-SHA512";
  auto problem = validate_cipher_config(o);
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("unknown TLS 1.2 cipher suite name(s): ECDHE-RSA-AES256-GCM-SHA512, "
                          "DHE-RSA-AES256-GCM-SHA512"),
            std::string::npos)
      << *problem;
}

TEST(CipherPolicy, OneUnknownNameAmongGoodOnesIsStillRejected) {
  TlsServerOptions o;
  o.ciphers_tls12 = "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES512-GCM-SHA512";
  auto problem = validate_cipher_config(o);
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("ECDHE-RSA-AES512-GCM-SHA512"), std::string::npos);
  EXPECT_EQ(problem->find("ECDHE-RSA-CHACHA20-POLY1305"), std::string::npos) << *problem;
}

TEST(CipherPolicy, NonEcdheOrNonAeadSuitesAreRejected) {
  for (const char* suite :
       {"AES128-SHA", "DHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA", "AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-SHA384", "ECDHE-PSK-CHACHA20-POLY1305", "DES-CBC3-SHA", "NULL-SHA"}) {
    TlsServerOptions o;
    o.ciphers_tls12 = std::string("ECDHE-RSA-AES128-GCM-SHA256:") + suite;
    auto problem = validate_cipher_config(o);
    ASSERT_TRUE(problem) << suite;
    EXPECT_NE(problem->find(suite), std::string::npos) << *problem;
    // Known suites are reported as weak, not as unknown (this libssl may lack NULL and 3DES).
    if (std::string_view(suite) != "NULL-SHA" && std::string_view(suite) != "DES-CBC3-SHA") {
      EXPECT_NE(problem->find("without ECDHE key exchange and AEAD"), std::string::npos)
          << *problem;
    }
  }
}

TEST(CipherPolicy, AliasesAndMisplacedOrEmptyListsAreRejected) {
  TlsServerOptions o;
  o.ciphers_tls12 = "HIGH:!aNULL";
  ASSERT_TRUE(validate_cipher_config(o));
  o = {};
  o.ciphers_tls12 = "TLS_AES_128_GCM_SHA256";
  auto problem = validate_cipher_config(o);
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("belong in ciphersuites_tls13"), std::string::npos);
  o = {};
  o.ciphersuites_tls13 = "TLS_AES_128_GCM_SHA256:TLS_AES_512_GCM_SHA512";
  problem = validate_cipher_config(o);
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("unknown TLS 1.3 cipher suite name(s): TLS_AES_512_GCM_SHA512"),
            std::string::npos);
  o = {};
  o.ciphersuites_tls13 = "ECDHE-RSA-AES128-GCM-SHA256";
  EXPECT_TRUE(validate_cipher_config(o));
  o = {};
  o.ciphers_tls12 = "";
  EXPECT_TRUE(validate_cipher_config(o));
  o = {};
  EXPECT_FALSE(validate_cipher_config(o));
}

TEST_F(Fixture, BuildRefusesBadCiphersInsteadOfWeakening) {
  options.ciphers_tls12 = "ECDHE-RSA-AES256-GCM-SHA512:DHE-RSA-AES256-GCM-SHA512";
  auto result = build();
  EXPECT_FALSE(result);
  EXPECT_NE(result.error.find("DHE-RSA-AES256-GCM-SHA512"), std::string::npos) << result.error;
}

TEST_F(Fixture, KeyThatDoesNotMatchTheCertificateIsRejected) {
  auto other = make_self_signed("other.test", 5);
  write_file_atomically(options.key_file, other.key_pem);
  auto result = build();
  ASSERT_FALSE(result);
  EXPECT_NE(result.error.find("does not match"), std::string::npos) << result.error;
}

TEST_F(Fixture, MissingOrBrokenFilesAreRejectedWithTheirNames) {
  options.cert_file = dir.file("absent.pem");
  auto result = build();
  ASSERT_FALSE(result);
  EXPECT_NE(result.error.find("absent.pem"), std::string::npos) << result.error;

  options.cert_file = dir.file("cert.pem");
  write_file_atomically(options.key_file,
                        "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n");
  result = build();
  ASSERT_FALSE(result);
  EXPECT_NE(result.error.find("key.pem"), std::string::npos) << result.error;
  // The key file's contents never appear in the message.
  EXPECT_EQ(result.error.find("not base64"), std::string::npos);
}

TEST_F(Fixture, FullChainFileLoadsIntermediates) {
  auto leaf = make_self_signed("leaf.test", 11);
  auto extra = make_self_signed("intermediate.test", 12);
  write_file_atomically(options.cert_file, leaf.cert_pem + extra.cert_pem);
  write_file_atomically(options.key_file, leaf.key_pem);
  auto result = build();
  ASSERT_TRUE(result) << result.error;
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(result.context->native_handle(), &chain);
  EXPECT_EQ(sk_X509_num(chain), 1);
}

TEST_F(Fixture, ReloadSwapsOnlyToAValidContext) {
  auto created = TlsContextProvider::create(options);
  ASSERT_TRUE(created.provider) << created.error;
  auto& provider = *created.provider;
  auto first = provider.current();
  const auto ring = provider.ticket_keys();
  EXPECT_EQ(serial_of(first), "03E9");
  EXPECT_EQ(provider.generation(), 0u);

  install(make_self_signed("second.test", 2002));
  EXPECT_FALSE(provider.reload());
  auto second = provider.current();
  EXPECT_NE(second, first);
  EXPECT_EQ(serial_of(second), "07D2");
  EXPECT_EQ(provider.generation(), 1u);
  EXPECT_EQ(serial_of(first), "03E9");  // whoever still holds the old context keeps it intact

  write_file_atomically(options.cert_file, "garbage\n");
  auto error = provider.reload();
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("cert.pem"), std::string::npos) << *error;
  EXPECT_EQ(provider.current(), second);
  EXPECT_EQ(provider.generation(), 1u);

  // A key from another pair (half-finished renewal) keeps the old context too.
  auto third = make_self_signed("third.test", 3003);
  write_file_atomically(options.cert_file, third.cert_pem);
  error = provider.reload();
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("does not match"), std::string::npos);
  EXPECT_EQ(provider.current(), second);
  // ... until the key arrives.
  write_file_atomically(options.key_file, third.key_pem);
  EXPECT_FALSE(provider.reload());
  EXPECT_EQ(serial_of(provider.current()), "0BBB");
  // The ticket key ring is the same object across reloads.
  EXPECT_EQ(provider.ticket_keys(), ring);
}

TEST_F(Fixture, CreateFailsOnBadConfiguration) {
  options.ciphers_tls12 = "AES128-SHA";
  auto created = TlsContextProvider::create(options);
  EXPECT_FALSE(created.provider);
  EXPECT_NE(created.error.find("AES128-SHA"), std::string::npos);
  options = {};
  options.cert_file = dir.file("cert.pem");
  options.key_file = dir.file("key.pem");
  options.ticket_key_rotation = std::chrono::seconds(0);
  EXPECT_FALSE(TlsContextProvider::create(options).provider);
}

TEST_F(Fixture, WatcherPicksUpARenewedCertificate) {
  options.reload_poll = std::chrono::milliseconds(20);
  auto created = TlsContextProvider::create(options);
  ASSERT_TRUE(created.provider) << created.error;
  auto provider = created.provider;
  boost::asio::io_context ioc;
  provider->watch(ioc.get_executor());

  // Nothing changed: polls happen, no reload.
  ioc.run_for(std::chrono::milliseconds(100));
  EXPECT_EQ(provider->generation(), 0u);

  install(make_self_signed("renewed.test", 4004));
  for (int i = 0; i < 200 && provider->generation() == 0; ++i)
    ioc.run_for(std::chrono::milliseconds(10));
  EXPECT_EQ(provider->generation(), 1u);
  EXPECT_EQ(serial_of(provider->current()), "0FA4");

  // A broken renewal is tried once, logged, and the certificate stays.
  write_file_atomically(options.cert_file, "broken\n");
  ioc.run_for(std::chrono::milliseconds(150));
  EXPECT_EQ(provider->generation(), 1u);
  EXPECT_EQ(serial_of(provider->current()), "0FA4");

  provider->stop_watching();
  ioc.restart();
  // With the watcher stopped nothing is left to run: run() returns promptly.
  const auto started = std::chrono::steady_clock::now();
  ioc.run();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
}

TEST(TicketKeyRing, CurrentKeyEncryptsAndPreviousKeyDecryptsForOnePeriod) {
  using namespace std::chrono_literals;
  TicketKeyRing ring(10s);
  const auto t0 = TicketKeyRing::Clock::now();
  auto a = ring.encryption_key(t0);
  ASSERT_TRUE(a);
  auto a2 = ring.encryption_key(t0 + 5s);
  ASSERT_TRUE(a2);
  EXPECT_EQ(a->name, a2->name);
  EXPECT_EQ(ring.size(), 1u);

  TicketKeyRing::Use use{};
  ASSERT_TRUE(ring.decryption_key(a->name.data(), t0 + 5s, use));
  EXPECT_EQ(use, TicketKeyRing::Use::current);

  auto b = ring.encryption_key(t0 + 10s);  // rotation
  ASSERT_TRUE(b);
  EXPECT_NE(a->name, b->name);
  EXPECT_NE(a->aes, b->aes);
  EXPECT_EQ(ring.size(), 2u);
  ASSERT_TRUE(ring.decryption_key(a->name.data(), t0 + 15s, use));
  EXPECT_EQ(use, TicketKeyRing::Use::previous);
  ASSERT_TRUE(ring.decryption_key(b->name.data(), t0 + 15s, use));
  EXPECT_EQ(use, TicketKeyRing::Use::current);

  // Two periods after it was made, the old key is gone.
  EXPECT_FALSE(ring.decryption_key(a->name.data(), t0 + 20s, use));
  EXPECT_EQ(use, TicketKeyRing::Use::none);
  EXPECT_EQ(ring.size(), 1u);

  std::array<unsigned char, 16> unknown{};
  EXPECT_FALSE(ring.decryption_key(unknown.data(), t0 + 20s, use));
}

TEST(TicketKeyRing, AnIdleRingStillRetiresItsKey) {
  using namespace std::chrono_literals;
  TicketKeyRing ring(10s);
  const auto t0 = TicketKeyRing::Clock::now();
  auto a = ring.encryption_key(t0);
  ASSERT_TRUE(a);
  TicketKeyRing::Use use{};
  // No handshake for 12 s: the key is past its encryption period, so tickets under it are renewed.
  ASSERT_TRUE(ring.decryption_key(a->name.data(), t0 + 12s, use));
  EXPECT_EQ(use, TicketKeyRing::Use::previous);
  EXPECT_FALSE(ring.decryption_key(a->name.data(), t0 + 21s, use));
}

}  // namespace
}  // namespace bastion::net::tls
