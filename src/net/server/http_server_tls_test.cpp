// A real HttpServer with TLS on 127.0.0.1:0 against OpenSSL/Beast clients.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <thread>
#include <vector>

#include "net/server/http_server.hpp"
#include "net/tls/test_certificates.hpp"
#include "net/tls/tls_server_context.hpp"

namespace bastion::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using namespace std::chrono_literals;
using TlsStream = ssl::stream<beast::tcp_stream>;
using tls::testing::KeyType;
using tls::testing::make_self_signed;
using tls::testing::write_file_atomically;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Runs one client coroutine on its own io_context, bounded in time.
template <class Make>
void run_client(Make make, std::chrono::seconds bound = 15s) {
  asio::io_context ioc;
  bool done = false;
  std::exception_ptr error;
  asio::co_spawn(ioc, make(), [&](std::exception_ptr e) {
    done = true;
    error = e;
  });
  ioc.run_for(bound);
  ASSERT_TRUE(done) << "client did not finish in time";
  if (error) std::rethrow_exception(error);
}

struct Connection {
  std::unique_ptr<TlsStream> stream;
  boost::system::error_code ec;  // connect or handshake failure
  SSL* native() { return stream->native_handle(); }
};

asio::awaitable<Connection> connect_tls(ssl::context& ctx, tcp::endpoint endpoint,
                                        SSL_SESSION* session = nullptr) {
  Connection c;
  c.stream = std::make_unique<TlsStream>(co_await asio::this_coro::executor, ctx);
  auto& tcp_layer = beast::get_lowest_layer(*c.stream);
  tcp_layer.expires_after(5s);
  auto [cec] = co_await tcp_layer.async_connect(endpoint, use_tuple);
  if (cec) {
    c.ec = cec;
    co_return c;
  }
  SSL_set_tlsext_host_name(c.native(), "localhost");
  if (session != nullptr) SSL_set_session(c.native(), session);
  tcp_layer.expires_after(5s);
  auto [hec] = co_await c.stream->async_handshake(ssl::stream_base::client, use_tuple);
  c.ec = hec;
  co_return c;
}

struct Reply {
  boost::system::error_code ec;
  http::response<http::string_body> response;
};

asio::awaitable<Reply> exchange(TlsStream& stream, http::verb verb, std::string target,
                                std::string body = {}) {
  Request req{verb, target, 11};
  req.set(http::field::host, "localhost");
  req.body() = std::move(body);
  req.prepare_payload();
  Reply reply;
  auto& tcp_layer = beast::get_lowest_layer(stream);
  tcp_layer.expires_after(5s);
  auto [wec, wn] = co_await http::async_write(stream, req, use_tuple);
  if (wec) {
    reply.ec = wec;
    co_return reply;
  }
  beast::flat_buffer buffer;
  auto [rec, rn] = co_await http::async_read(stream, buffer, reply.response, use_tuple);
  reply.ec = rec;
  co_return reply;
}

std::string peer_serial(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return {};
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string out = hex;
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

// A client context: protocol range, TLS 1.2 cipher list, and ALPN http/1.1 as browsers send it.
std::unique_ptr<ssl::context> client_context(int min_version, int max_version,
                                             const char* ciphers = nullptr,
                                             std::string_view alpn = "\x08http/1.1") {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, min_version);
  SSL_CTX_set_max_proto_version(native, max_version);
  if (ciphers != nullptr) SSL_CTX_set_cipher_list(native, ciphers);
  if (!alpn.empty()) {
    SSL_CTX_set_alpn_protos(native, reinterpret_cast<const unsigned char*>(alpn.data()),
                            static_cast<unsigned>(alpn.size()));
  }
  ctx->set_verify_mode(ssl::verify_none);  // self-signed; the tests compare serials instead
  return ctx;
}

class TlsServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    first_ =
        new tls::testing::TestCertificate(make_self_signed("localhost", 1001, KeyType::rsa2048));
    second_ =
        new tls::testing::TestCertificate(make_self_signed("localhost", 2002, KeyType::rsa2048));
  }
  static void TearDownTestSuite() {
    delete first_;
    delete second_;
  }

  void start(ServerLimits limits = {}, bool use_tls = true) {
    tls::TlsServerOptions options;
    options.cert_file = dir_.file("fullchain.pem");
    options.key_file = dir_.file("privkey.pem");
    options.reload_poll = 20ms;
    write_file_atomically(options.cert_file, first_->cert_pem);
    write_file_atomically(options.key_file, first_->key_pem);
    auto created = tls::TlsContextProvider::create(options);
    ASSERT_TRUE(created.provider) << created.error;
    provider_ = created.provider;
    server_ = std::make_shared<HttpServer>(
        ioc_, "public", limits,
        [this](Request& req, ResponseWriter& w, const ConnectionInfo& c) {
          return handle(req, w, c);
        },
        use_tls ? provider_ : nullptr);
    server_->set_refusal_observer([this](unsigned status, std::string_view reason) {
      std::lock_guard lock(refusals_mutex_);
      refusals_.push_back(std::to_string(status) + " " + std::string(reason));
    });
    auto bound = server_->bind("127.0.0.1:0");
    ASSERT_TRUE(bound) << bound.error().message();
    endpoint_ = *bound;
    server_->start();
    thread_ = std::thread([this] { ioc_.run(); });
  }

  void TearDown() override {
    if (server_) {
      auto done = asio::co_spawn(ioc_, server_->shutdown(500ms), asio::use_future);
      done.wait_for(5s);
      provider_->stop_watching();
    }
    work_.reset();
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }

  asio::awaitable<void> handle(Request& req, ResponseWriter& w, const ConnectionInfo& c) {
    ++handled_;
    if (req.target() == "/sse") {
      http::response<http::empty_body> head{http::status::ok, 11};
      head.set(http::field::content_type, "text/event-stream");
      if (!co_await w.start_stream(std::move(head))) co_return;
      for (int i = 1; i <= 3; ++i) {
        std::string event = "data: " + std::to_string(i) + "\n\n";
        if (!co_await w.write_chunk(event)) co_return;
      }
      co_await w.finish_stream();
      co_return;
    }
    if (req.target() == "/slow") {
      ++slow_started_;
      asio::steady_timer timer(co_await asio::this_coro::executor, 30s);
      auto [ec] = co_await timer.async_wait(use_tuple);
      if (ec) ++slow_cancelled_;
      co_return;
    }
    if (req.target() == "/pause") {  // answers after 300 ms
      ++slow_started_;
      asio::steady_timer timer(co_await asio::this_coro::executor, 300ms);
      co_await timer.async_wait(use_tuple);
      co_await w.send(text_response(http::status::ok, "paused"));
      co_return;
    }
    if (req.target() == "/big") {
      // Several TLS records' worth (a record carries at most 16 KiB), with a checkable pattern.
      std::string body(100'000, 'x');
      for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
      co_await w.send(text_response(http::status::ok, body));
      co_return;
    }
    auto res = text_response(http::status::ok, std::string("hello ") + std::string(req.target()) +
                                                   (c.tls ? " tls=1" : " tls=0"));
    co_await w.send(std::move(res));
  }

  // Runs `body` on a fresh TLS connection to the server, in one bounded client run. A failed
  // connect or handshake fails the test and `body` does not run.
  template <class Body>
  void on_connection(ssl::context& ctx, Body body) {
    run_client([&]() -> asio::awaitable<void> {
      auto c = co_await connect_tls(ctx, endpoint_);
      if (c.ec) {
        ADD_FAILURE() << "connect or handshake: " << c.ec.message();
        co_return;
      }
      co_await body(c);
    });
  }

  // Sends `GET target` (/slow or /pause) on `c` and waits, bounded, until its handler has started.
  asio::awaitable<void> start_handler(Connection& c, std::string_view target) {
    const std::string request = "GET " + std::string(target) + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
    beast::get_lowest_layer(*c.stream).expires_after(5s);
    auto [ec, n] = co_await asio::async_write(*c.stream, asio::buffer(request), use_tuple);
    EXPECT_FALSE(ec) << ec.message();
    asio::steady_timer t(co_await asio::this_coro::executor);
    for (int i = 0; i < 500 && slow_started_ == 0; ++i) {
      t.expires_after(5ms);
      co_await t.async_wait(use_tuple);
    }
    EXPECT_EQ(slow_started_, 1);
  }

  // Waits (bounded) until `done` holds; for state the server changes on its own thread.
  template <class Pred>
  static bool eventually(Pred done, std::chrono::milliseconds bound = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

  static inline tls::testing::TestCertificate* first_ = nullptr;
  static inline tls::testing::TestCertificate* second_ = nullptr;
  tls::testing::TempDir dir_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
  std::shared_ptr<tls::TlsContextProvider> provider_;
  std::shared_ptr<HttpServer> server_;
  tcp::endpoint endpoint_;
  std::thread thread_;
  std::atomic<int> slow_started_{0};
  std::atomic<int> slow_cancelled_{0};
  std::atomic<int> handled_{0};
  std::mutex refusals_mutex_;
  std::vector<std::string> refusals_;  // "<status> <reason>" as the observer was told
};

TEST_F(TlsServerTest, Tls13HandshakeAndKeepAliveRequests) {
  start();
  auto ctx = client_context(TLS1_3_VERSION, TLS1_3_VERSION);
  on_connection(*ctx, [&](Connection& c) -> asio::awaitable<void> {
    EXPECT_EQ(SSL_version(c.native()), TLS1_3_VERSION);
    const unsigned char* alpn = nullptr;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(c.native(), &alpn, &alpn_len);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(alpn), alpn_len), "http/1.1");
    for (int i = 0; i < 3; ++i) {
      auto r = co_await exchange(*c.stream, http::verb::get, "/hello");
      EXPECT_FALSE(r.ec) << r.ec.message();
      EXPECT_EQ(r.response.result(), http::status::ok);
      EXPECT_EQ(r.response.body(), "hello /hello tls=1\n");
    }
  });
}

// A reply larger than one TLS record arrives whole, and the connection serves the next request.
TEST_F(TlsServerTest, ReplyLargerThanOneRecordThenKeepAlive) {
  start();
  auto ctx = client_context(TLS1_3_VERSION, TLS1_3_VERSION);
  on_connection(*ctx, [&](Connection& c) -> asio::awaitable<void> {
    for (int i = 0; i < 2; ++i) {
      auto r = co_await exchange(*c.stream, http::verb::get, "/big");
      EXPECT_FALSE(r.ec) << r.ec.message();
      const auto& body = r.response.body();
      EXPECT_EQ(body.size(), 100'001u);  // text_response ends it with a newline
      bool pattern = body.size() == 100'001u;
      for (std::size_t k = 0; pattern && k < 100'000; ++k) pattern = body[k] == static_cast<char>('a' + k % 26);
      EXPECT_TRUE(pattern) << "the body was reordered or corrupted across records";
    }
    auto r = co_await exchange(*c.stream, http::verb::get, "/after");
    EXPECT_EQ(r.response.body(), "hello /after tls=1\n");
  });
}

// Requests sent back to back in one TLS write (several in one record) are all answered, in
// order, on the same connection: bytes the server read ahead are not lost between requests.
TEST_F(TlsServerTest, PipelinedRequestsInOneRecordAreAllAnswered) {
  start();
  auto ctx = client_context(TLS1_3_VERSION, TLS1_3_VERSION);
  on_connection(*ctx, [&](Connection& c) -> asio::awaitable<void> {
    std::string wire;
    for (int i = 0; i < 5; ++i) wire += "GET /p" + std::to_string(i) + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
    beast::get_lowest_layer(*c.stream).expires_after(5s);
    auto [wec, wn] = co_await asio::async_write(*c.stream, asio::buffer(wire), use_tuple);
    EXPECT_FALSE(wec) << wec.message();
    beast::flat_buffer buffer;
    for (int i = 0; i < 5; ++i) {
      http::response<http::string_body> res;
      beast::get_lowest_layer(*c.stream).expires_after(5s);
      auto [rec, rn] = co_await http::async_read(*c.stream, buffer, res, use_tuple);
      EXPECT_FALSE(rec) << "reply " << i << ": " << rec.message();
      if (rec) co_return;
      EXPECT_EQ(res.body(), "hello /p" + std::to_string(i) + " tls=1\n");
    }
  });
  EXPECT_EQ(handled_, 5);
}

// A keep-alive connection that waits past the point where the server frees its TLS record
// buffers (1 s) is still served, and once it has been idle for the idle timeout the server ends
// it with a close_notify (an orderly TLS end, not a bare TCP close).
TEST_F(TlsServerTest, IdleConnectionOutlivesBufferReleaseThenEndsWithCloseNotify) {
  ServerLimits limits;
  limits.idle_timeout = 1600ms;
  start(limits);
  auto ctx = client_context(TLS1_3_VERSION, TLS1_3_VERSION);
  on_connection(*ctx, [&](Connection& c) -> asio::awaitable<void> {
    auto first = co_await exchange(*c.stream, http::verb::get, "/first");
    EXPECT_EQ(first.response.body(), "hello /first tls=1\n");
    asio::steady_timer idle(co_await asio::this_coro::executor, 1200ms);  // the idle time under test
    co_await idle.async_wait(use_tuple);
    auto second = co_await exchange(*c.stream, http::verb::get, "/big");
    EXPECT_FALSE(second.ec) << second.ec.message();
    EXPECT_EQ(second.response.body().size(), 100'001u);
    const auto quiet_since = std::chrono::steady_clock::now();
    char byte = 0;
    beast::get_lowest_layer(*c.stream).expires_after(5s);
    auto [ec, n] = co_await c.stream->async_read_some(asio::buffer(&byte, 1), use_tuple);
    const auto waited = std::chrono::steady_clock::now() - quiet_since;
    EXPECT_EQ(ec, asio::error::eof) << "expected close_notify, got " << ec.message();
    EXPECT_GE(waited, 1400ms) << "closed before the idle timeout";
    EXPECT_LT(waited, 4s) << "not closed at the idle timeout";
  });
}

TEST_F(TlsServerTest, Tls12EcdheRsaAesGcmHandshake) {
  start();
  auto ctx = client_context(TLS1_2_VERSION, TLS1_2_VERSION, "ECDHE-RSA-AES128-GCM-SHA256");
  on_connection(*ctx, [&](Connection& c) -> asio::awaitable<void> {
    EXPECT_EQ(SSL_version(c.native()), TLS1_2_VERSION);
    EXPECT_STREQ(SSL_CIPHER_get_name(SSL_get_current_cipher(c.native())),
                 "ECDHE-RSA-AES128-GCM-SHA256");
    auto r = co_await exchange(*c.stream, http::verb::post, "/tls12", "payload");
    EXPECT_FALSE(r.ec);
    EXPECT_EQ(r.response.body(), "hello /tls12 tls=1\n");
  });
}

TEST_F(TlsServerTest, OldProtocolsWeakCiphersAndForeignAlpnAreRefused) {
  start();
  // TLS 1.1 (OpenSSL 3 needs security level 0 to even offer it).
  auto tls11 = client_context(TLS1_1_VERSION, TLS1_1_VERSION, "DEFAULT:@SECLEVEL=0");
  // TLS 1.2 offering only a CBC suite without forward secrecy.
  auto cbc = client_context(TLS1_2_VERSION, TLS1_2_VERSION, "AES128-SHA:@SECLEVEL=0");
  // TLS 1.2 offering only finite-field DHE.
  auto dhe = client_context(TLS1_2_VERSION, TLS1_2_VERSION, "DHE-RSA-AES128-GCM-SHA256");
  // ALPN without http/1.1 (RFC 7301: no_application_protocol).
  auto h2 = client_context(TLS1_2_VERSION, TLS1_3_VERSION, nullptr, "\x02h2");
  for (auto* ctx : {tls11.get(), cbc.get(), dhe.get(), h2.get()}) {
    run_client([&]() -> asio::awaitable<void> {
      auto c = co_await connect_tls(*ctx, endpoint_);
      EXPECT_TRUE(c.ec) << "handshake unexpectedly succeeded";
    });
  }
  // A client without ALPN is served.
  auto none = client_context(TLS1_2_VERSION, TLS1_3_VERSION, nullptr, "");
  on_connection(*none, [](Connection&) -> asio::awaitable<void> { co_return; });
}

void expect_resumption(const std::function<void(std::function<asio::awaitable<void>()>)>& run,
                       ssl::context& ctx, tcp::endpoint endpoint) {
  SSL_SESSION* session = nullptr;
  run([&]() -> asio::awaitable<void> {
    auto c = co_await connect_tls(ctx, endpoint);
    EXPECT_FALSE(c.ec) << c.ec.message();
    if (c.ec) co_return;
    EXPECT_FALSE(SSL_session_reused(c.native()));
    // TLS 1.3 tickets arrive after the handshake: read a reply first.
    auto r = co_await exchange(*c.stream, http::verb::get, "/first");
    EXPECT_FALSE(r.ec);
    session = SSL_get1_session(c.native());
    // A clean close: OpenSSL marks sessions of connections freed without one as not resumable.
    beast::get_lowest_layer(*c.stream).expires_after(5s);
    co_await c.stream->async_shutdown(use_tuple);
  });
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(SSL_SESSION_is_resumable(session));
  run([&]() -> asio::awaitable<void> {
    auto c = co_await connect_tls(ctx, endpoint, session);
    EXPECT_FALSE(c.ec) << c.ec.message();
    if (c.ec) co_return;
    EXPECT_TRUE(SSL_session_reused(c.native())) << "the session ticket was not accepted";
    auto r = co_await exchange(*c.stream, http::verb::get, "/second");
    EXPECT_FALSE(r.ec);
    EXPECT_EQ(r.response.result(), http::status::ok);
  });
  SSL_SESSION_free(session);
}

TEST_F(TlsServerTest, SessionTicketsResumeTls13AndTls12) {
  start();
  auto runner = [](std::function<asio::awaitable<void>()> f) { run_client(f); };
  auto tls13 = client_context(TLS1_3_VERSION, TLS1_3_VERSION);
  expect_resumption(runner, *tls13, endpoint_);
  auto tls12 = client_context(TLS1_2_VERSION, TLS1_2_VERSION);
  expect_resumption(runner, *tls12, endpoint_);
}

TEST_F(TlsServerTest, RenewedCertificateReachesNewConnectionsOnly) {
  start();
  provider_->watch(ioc_.get_executor());
  auto ctx = client_context(TLS1_2_VERSION, TLS1_3_VERSION);
  asio::io_context client_ioc;
  Connection old;
  SSL_SESSION* session = nullptr;
  auto run_on = [&](auto make) {
    bool done = false;
    asio::co_spawn(client_ioc, make(), [&](std::exception_ptr e) {
      done = true;
      if (e) std::rethrow_exception(e);
    });
    client_ioc.restart();
    client_ioc.run_for(10s);
    EXPECT_TRUE(done);
  };
  run_on([&]() -> asio::awaitable<void> {
    old = co_await connect_tls(*ctx, endpoint_);
    EXPECT_FALSE(old.ec) << old.ec.message();
    if (old.ec) co_return;
    auto r = co_await exchange(*old.stream, http::verb::get, "/before");
    EXPECT_FALSE(r.ec);
    session = SSL_get1_session(old.native());
  });
  ASSERT_TRUE(old.stream && !old.ec);
  EXPECT_EQ(peer_serial(old.native()), "03E9");

  // certbot-style renewal: new files renamed into place.
  write_file_atomically(dir_.file("fullchain.pem"), second_->cert_pem);
  write_file_atomically(dir_.file("privkey.pem"), second_->key_pem);
  ASSERT_TRUE(eventually([&] { return provider_->generation() >= 1; })) << "watcher did not reload";

  run_on([&]() -> asio::awaitable<void> {
    auto fresh = co_await connect_tls(*ctx, endpoint_);
    EXPECT_FALSE(fresh.ec) << fresh.ec.message();
    if (fresh.ec) co_return;
    EXPECT_EQ(peer_serial(fresh.native()), "07D2");
    auto r = co_await exchange(*fresh.stream, http::verb::get, "/new");
    EXPECT_FALSE(r.ec);
    // The connection opened before the renewal still works, on its old certificate.
    auto again = co_await exchange(*old.stream, http::verb::get, "/still-open");
    EXPECT_FALSE(again.ec) << again.ec.message();
    EXPECT_EQ(again.response.body(), "hello /still-open tls=1\n");
    EXPECT_EQ(peer_serial(old.native()), "03E9");
    // Tickets issued before the reload still resume: the key ring survives reloads.
    auto resumed = co_await connect_tls(*ctx, endpoint_, session);
    EXPECT_FALSE(resumed.ec);
    if (!resumed.ec) {
      EXPECT_TRUE(SSL_session_reused(resumed.native()));
    }
  });
  SSL_SESSION_free(session);
}

TEST_F(TlsServerTest, SilentClientIsDroppedAfterTheHeaderTimeout) {
  ServerLimits limits;
  limits.header_timeout = 300ms;
  start(limits);
  run_client([&]() -> asio::awaitable<void> {
    // TCP connected, never says hello: the handshake deadline closes it.
    tcp::socket socket(co_await asio::this_coro::executor);
    auto [cec] = co_await socket.async_connect(endpoint_, use_tuple);
    EXPECT_FALSE(cec);
    const auto started = std::chrono::steady_clock::now();
    char byte = 0;
    auto [rec, n] = co_await socket.async_read_some(asio::buffer(&byte, 1), use_tuple);
    const auto waited = std::chrono::steady_clock::now() - started;
    EXPECT_TRUE(rec == asio::error::eof || rec == asio::error::connection_reset) << rec.message();
    EXPECT_GE(waited, 250ms);
    EXPECT_LT(waited, 3s);
  });
  EXPECT_TRUE(eventually([&] { return server_->connections() == 0; }));
}

TEST_F(TlsServerTest, LimitsAnswerTheSameOverTls) {
  ServerLimits limits;
  limits.header_timeout = 300ms;
  limits.max_body_bytes = 1024;
  limits.max_header_bytes = 2048;
  start(limits);
  auto ctx = client_context(TLS1_2_VERSION, TLS1_3_VERSION);
  on_connection(*ctx, [&](Connection& c) -> asio::awaitable<void> {  // 413
    auto r = co_await exchange(*c.stream, http::verb::post, "/big", std::string(4096, 'x'));
    EXPECT_EQ(r.response.result(), http::status::payload_too_large);
  });
  on_connection(*ctx, [&](Connection& c) -> asio::awaitable<void> {  // 431
    Request req{http::verb::get, "/", 11};
    req.set("x-filler", std::string(4096, 'y'));
    beast::get_lowest_layer(*c.stream).expires_after(5s);
    co_await http::async_write(*c.stream, req, use_tuple);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    co_await http::async_read(*c.stream, buffer, res, use_tuple);
    EXPECT_EQ(res.result(), http::status::request_header_fields_too_large);
  });
  on_connection(*ctx, [&](Connection& c) -> asio::awaitable<void> {  // 408: header never finished
    std::string partial = "GET / HTTP/1.1\r\nHost: localhost\r\n";
    beast::get_lowest_layer(*c.stream).expires_after(5s);
    co_await asio::async_write(*c.stream, asio::buffer(partial), use_tuple);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    auto [ec, n] = co_await http::async_read(*c.stream, buffer, res, use_tuple);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(res.result(), http::status::request_timeout);
    // ...and then a clean TLS close (close_notify, not a truncated stream).
    char byte = 0;
    auto [rec, rn] = co_await c.stream->async_read_some(asio::buffer(&byte, 1), use_tuple);
    EXPECT_EQ(rec, asio::error::eof) << rec.message();
  });
}

TEST_F(TlsServerTest, SseStreamsOverTls) {
  start();
  auto ctx = client_context(TLS1_3_VERSION, TLS1_3_VERSION);
  on_connection(*ctx, [&](Connection& c) -> asio::awaitable<void> {
    auto r = co_await exchange(*c.stream, http::verb::get, "/sse");
    EXPECT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.response[http::field::content_type], "text/event-stream");
    EXPECT_TRUE(r.response.chunked());
    EXPECT_EQ(r.response.body(), "data: 1\n\ndata: 2\n\ndata: 3\n\n");
    // The connection is reusable after a finished stream.
    auto next = co_await exchange(*c.stream, http::verb::get, "/after");
    EXPECT_EQ(next.response.body(), "hello /after tls=1\n");
  });
}

TEST_F(TlsServerTest, ClientThatLeavesCancelsItsHandler) {
  start();
  auto ctx = client_context(TLS1_3_VERSION, TLS1_3_VERSION);
  on_connection(*ctx, [&](Connection& c) -> asio::awaitable<void> {
    co_await start_handler(c, "/slow");
    boost::system::error_code ec;
    beast::get_lowest_layer(*c.stream).socket().close(ec);
  });
  EXPECT_TRUE(eventually([&] { return slow_cancelled_ == 1; })) << "handler was not cancelled";
  EXPECT_TRUE(eventually([&] { return server_->connections() == 0; }));
}

// The client ends TLS with a close_notify and keeps the TCP connection open: only the decryption
// layer can tell that alert from a pipelined request, so the watch must read through it.
TEST_F(TlsServerTest, ClientCloseNotifyCancelsItsHandler) {
  start();
  auto ctx = client_context(TLS1_3_VERSION, TLS1_3_VERSION);
  on_connection(*ctx, [&](Connection& c) -> asio::awaitable<void> {
    co_await start_handler(c, "/slow");
    // Sends close_notify, then waits for the server's side of the close; the bound would close
    // the TCP connection itself, which would be noticed without reading the alert.
    beast::get_lowest_layer(*c.stream).expires_after(3s);
    auto [ec] = co_await c.stream->async_shutdown(use_tuple);
    EXPECT_NE(ec, beast::error::timeout) << "the server did not react to close_notify";
    EXPECT_EQ(slow_cancelled_, 1) << "the server closed without cancelling the handler";
  });
  EXPECT_TRUE(eventually([&] { return server_->connections() == 0; }));
}

// A request that arrives while another is being handled is read through TLS, kept, and answered
// after the first, on the same connection.
TEST_F(TlsServerTest, RequestArrivingDuringAnotherIsAnsweredAfterIt) {
  start();
  auto ctx = client_context(TLS1_3_VERSION, TLS1_3_VERSION);
  on_connection(*ctx, [&](Connection& c) -> asio::awaitable<void> {
    co_await start_handler(c, "/pause");
    const std::string second = "GET /second HTTP/1.1\r\nHost: localhost\r\n\r\n";
    auto [wec, wn] = co_await asio::async_write(*c.stream, asio::buffer(second), use_tuple);
    EXPECT_FALSE(wec) << wec.message();
    beast::flat_buffer buffer;
    for (const char* expected : {"paused\n", "hello /second tls=1\n"}) {
      http::response<http::string_body> res;
      beast::get_lowest_layer(*c.stream).expires_after(5s);
      auto [rec, rn] = co_await http::async_read(*c.stream, buffer, res, use_tuple);
      EXPECT_FALSE(rec) << rec.message();
      if (rec) co_return;
      EXPECT_EQ(res.body(), expected);
    }
    // Still one keep-alive connection afterwards.
    auto third = co_await exchange(*c.stream, http::verb::get, "/third");
    EXPECT_EQ(third.response.body(), "hello /third tls=1\n");
  });
  EXPECT_EQ(handled_, 3);
}

TEST_F(TlsServerTest, ShutdownClosesIdleTlsConnectionsWithCloseNotify) {
  start();
  auto ctx = client_context(TLS1_3_VERSION, TLS1_3_VERSION);
  on_connection(*ctx, [&](Connection& c) -> asio::awaitable<void> {
    auto r = co_await exchange(*c.stream, http::verb::get, "/idle");
    EXPECT_FALSE(r.ec);
    auto done = asio::co_spawn(ioc_, server_->shutdown(2s), asio::use_future);
    char byte = 0;
    beast::get_lowest_layer(*c.stream).expires_after(5s);
    auto [rec, n] = co_await c.stream->async_read_some(asio::buffer(&byte, 1), use_tuple);
    EXPECT_EQ(rec, asio::error::eof) << rec.message();  // close_notify, not a truncation
    // Answer the close_notify so the server's shutdown completes at once.
    co_await c.stream->async_shutdown(use_tuple);
    EXPECT_EQ(done.wait_for(3s), std::future_status::ready);
  });
  EXPECT_EQ(server_->connections(), 0u);
}

// The plain path shares the loop with TLS: it must behave as before.
TEST_F(TlsServerTest, PlainListenerStillServesKeepAliveSseAndTimeouts) {
  ServerLimits limits;
  limits.header_timeout = 300ms;
  start(limits, false);
  EXPECT_FALSE(server_->tls_enabled());
  run_client([&]() -> asio::awaitable<void> {
    beast::tcp_stream stream(co_await asio::this_coro::executor);
    stream.expires_after(5s);
    auto [cec] = co_await stream.async_connect(endpoint_, use_tuple);
    EXPECT_FALSE(cec);
    beast::flat_buffer buffer;
    for (const char* target : {"/one", "/sse", "/two"}) {
      Request req{http::verb::get, target, 11};
      req.set(http::field::host, "localhost");
      stream.expires_after(5s);
      co_await http::async_write(stream, req, use_tuple);
      http::response<http::string_body> res;
      auto [ec, n] = co_await http::async_read(stream, buffer, res, use_tuple);
      EXPECT_FALSE(ec) << ec.message();
      if (std::string_view(target) == "/sse") {
        EXPECT_EQ(res.body(), "data: 1\n\ndata: 2\n\ndata: 3\n\n");
      } else {
        EXPECT_EQ(res.body(), std::string("hello ") + target + " tls=0\n");
      }
    }
    // A started but unfinished header gets 408, then the connection closes.
    std::string partial = "GET / HTTP/1.1\r\n";
    co_await asio::async_write(stream, asio::buffer(partial), use_tuple);
    http::response<http::string_body> res;
    auto [ec, n] = co_await http::async_read(stream, buffer, res, use_tuple);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(res.result(), http::status::request_timeout);
  });
}

// Sends raw bytes on a fresh plain connection; everything the server sent until it closed.
asio::awaitable<std::string> raw_exchange(tcp::endpoint endpoint, std::string bytes) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_after(5s);
  auto [cec] = co_await stream.async_connect(endpoint, use_tuple);
  if (cec) co_return "connect failed: " + cec.message();
  co_await asio::async_write(stream, asio::buffer(bytes), use_tuple);
  std::string out;
  for (;;) {
    char chunk[4096];
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(chunk), use_tuple);
    out.append(chunk, n);
    if (ec) break;
  }
  co_return out;
}

std::size_t replies_in(const std::string& text) {
  std::size_t n = 0;
  for (auto at = text.find("HTTP/1.1 "); at != std::string::npos; at = text.find("HTTP/1.1 ", at + 1)) ++n;
  return n;
}

TEST_F(TlsServerTest, AmbiguousFramingIsRefusedCountedAndNothingBehindItRuns) {
  ServerLimits limits;
  limits.max_header_bytes = 8192;
  start(limits, false);
  const std::string smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
  run_client([&]() -> asio::awaitable<void> {
    // Read as an empty body, "xchunked" would have let the body run as a request of its own.
    auto te = co_await raw_exchange(endpoint_, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n" + smuggled);
    EXPECT_EQ(te.rfind("HTTP/1.1 400 ", 0), 0u) << te;
    EXPECT_EQ(replies_in(te), 1u) << te;
    auto fold = co_await raw_exchange(endpoint_, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + smuggled);
    EXPECT_EQ(fold.rfind("HTTP/1.1 400 ", 0), 0u) << fold;
    EXPECT_EQ(replies_in(fold), 1u) << fold;
    auto lengths = co_await raw_exchange(endpoint_, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd" + smuggled);
    EXPECT_EQ(lengths.rfind("HTTP/1.1 400 ", 0), 0u) << lengths;
    EXPECT_EQ(replies_in(lengths), 1u) << lengths;
    // 2000 fields of 5 bytes: 10 KB over an 8 KiB limit, however the parser is fed.
    std::string fields;
    for (int i = 0; i < 2000; ++i) fields += "a:1\r\n";
    auto many = co_await raw_exchange(endpoint_, "GET / HTTP/1.1\r\nHost: a\r\n" + fields + "\r\n");
    EXPECT_EQ(many.rfind("HTTP/1.1 431 ", 0), 0u) << many.substr(0, 200);
    // A chunk-size line bigger than the read buffer is refused, not buffered whole.
    auto ext = co_await raw_exchange(endpoint_, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;" +
                                                    std::string(5 << 19, 'e') + "\r\nabc\r\n0\r\n\r\n");
    EXPECT_EQ(ext.rfind("HTTP/1.1 400 ", 0), 0u) << ext.substr(0, 200);
  });
  EXPECT_EQ(handled_.load(), 0) << "a refused request, or what followed it, reached the handler";
  std::lock_guard lock(refusals_mutex_);
  EXPECT_EQ(refusals_, (std::vector<std::string>{"400 http_bad_transfer_encoding", "400 http_obs_fold",
                                                 "400 http_bad_content_length", "431 http_header_too_large",
                                                 "400 http_bad_chunk"}));
}

}  // namespace
}  // namespace bastion::net
