#include "net/tls/tls_stream.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <chrono>
#include <string>

#include "net/tls/test_certificates.hpp"

// The peer is asio::ssl::stream, a client OpenSSL drives as it drives any other.
namespace bastion::net {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
using Client = ssl::stream<tcp::socket>;

// An operation's outcome, one value each, so `a && b` yields a pair of them.
struct Done {
  boost::system::error_code ec;
  std::size_t n = 0;
};
template <class Stream>
asio::awaitable<Done> read_exactly(Stream& s, asio::mutable_buffer b) {
  auto [ec, n] = co_await asio::async_read(s, b, use_tuple);
  co_return Done{ec, n};
}
template <class Stream>
asio::awaitable<Done> write_all(Stream& s, asio::const_buffer b) {
  auto [ec, n] = co_await asio::async_write(s, b, use_tuple);
  co_return Done{ec, n};
}
template <class Stream, class Type>
asio::awaitable<Done> handshake(Stream& s, Type type) {
  auto [ec] = co_await s.async_handshake(type, use_tuple);
  co_return Done{ec};
}
template <class Stream>
asio::awaitable<Done> shutdown(Stream& s) {
  auto [ec] = co_await s.async_shutdown(use_tuple);
  co_return Done{ec};
}

ssl::context server_context(int max_version) {
  ssl::context ctx(ssl::context::tls_server);
  const auto cert = tls::testing::make_self_signed("stream.test", 7);
  ctx.use_certificate_chain(asio::buffer(cert.cert_pem));
  ctx.use_private_key(asio::buffer(cert.key_pem), ssl::context::pem);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx.native_handle(), max_version);
  return ctx;
}

std::string pattern(std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

// A server stream and a client connected over loopback and handshaken.
struct Pair {
  std::unique_ptr<TlsStream> server;
  std::unique_ptr<Client> client;
};

struct Fixture : ::testing::Test {
  asio::io_context ioc;
  ssl::context client_ctx{ssl::context::tls_client};
  ssl::context server_ctx = server_context(TLS1_3_VERSION);

  asio::awaitable<Pair> connect() {
    auto ex = co_await asio::this_coro::executor;
    tcp::acceptor acceptor(ex, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    Pair p;
    p.client = std::make_unique<Client>(ex, client_ctx);
    p.client->lowest_layer().async_connect(acceptor.local_endpoint(), [](boost::system::error_code) {});
    p.server = std::make_unique<TlsStream>(co_await acceptor.async_accept(asio::use_awaitable), server_ctx);
    auto [s, c] = co_await (handshake(*p.server, ssl::stream_base::server) &&
                            handshake(*p.client, ssl::stream_base::client));
    EXPECT_FALSE(s.ec) << s.ec.message();
    EXPECT_FALSE(c.ec) << c.ec.message();
    co_return p;
  }

  // Runs a test body to its end, bounded in time.
  template <class Make>
  void run(Make make) {
    bool done = false;
    std::exception_ptr error;
    asio::co_spawn(ioc, make(), [&](std::exception_ptr e) {
      done = true;
      error = e;
    });
    ioc.run_for(20s);
    ASSERT_TRUE(done) << "test body did not finish in time";
    if (error) std::rethrow_exception(error);
  }

  // Sends `message` from the client and reads it back through the server stream, then the reverse.
  asio::awaitable<void> echo(Pair& p, const std::string& message) {
    std::string got(message.size(), '\0');
    auto [r, w] = co_await (read_exactly(*p.server, asio::buffer(got)) && write_all(*p.client, asio::buffer(message)));
    EXPECT_FALSE(r.ec) << r.ec.message();
    EXPECT_FALSE(w.ec);
    EXPECT_TRUE(got == message);
    std::string back(message.size(), '\0');
    auto [w2, r2] = co_await (write_all(*p.server, asio::buffer(got)) && read_exactly(*p.client, asio::buffer(back)));
    EXPECT_FALSE(w2.ec) << w2.ec.message();
    EXPECT_EQ(w2.n, message.size());
    EXPECT_FALSE(r2.ec) << r2.ec.message();
    EXPECT_TRUE(back == message);
  }
};

TEST_F(Fixture, HandshakesTls13AndEchoesASmallMessage) {
  run([&]() -> asio::awaitable<void> {
    auto p = co_await connect();
    EXPECT_EQ(SSL_version(p.server->native_handle()), TLS1_3_VERSION);
    co_await echo(p, "hello over TLS");
  });
}

TEST_F(Fixture, HandshakesTls12AndEchoesASmallMessage) {
  server_ctx = server_context(TLS1_2_VERSION);
  run([&]() -> asio::awaitable<void> {
    auto p = co_await connect();
    EXPECT_EQ(SSL_version(p.server->native_handle()), TLS1_2_VERSION);
    co_await echo(p, "hello over TLS 1.2");
  });
}

TEST_F(Fixture, EchoesAMessageOfManyRecords) {
  run([&]() -> asio::awaitable<void> {
    auto p = co_await connect();
    co_await echo(p, pattern(100 * 1000));
    co_await echo(p, pattern(300));  // the stream is reusable after a burst
  });
}

TEST_F(Fixture, HandshakeFailureIsAnSslError) {
  run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    tcp::acceptor acceptor(ex, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    tcp::socket plain(ex);
    plain.async_connect(acceptor.local_endpoint(), [](boost::system::error_code) {});
    TlsStream server(co_await acceptor.async_accept(asio::use_awaitable), server_ctx);
    const std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";  // not a ClientHello
    auto [hs, w] = co_await (handshake(server, ssl::stream_base::server) && write_all(plain, asio::buffer(http)));
    const auto ec = hs.ec;
    EXPECT_EQ(ec.category(), asio::error::get_ssl_category()) << ec.message();
  });
}

TEST_F(Fixture, AWriteCompletesWhileAReadIsPending) {
  run([&]() -> asio::awaitable<void> {
    auto p = co_await connect();
    bool read_done = false;
    std::string got(5, '\0');
    auto reader = [&]() -> asio::awaitable<boost::system::error_code> {
      auto [ec, n] = co_await asio::async_read(*p.server, asio::buffer(got), use_tuple);
      read_done = true;
      co_return ec;
    };
    auto writer = [&]() -> asio::awaitable<void> {
      const auto big = pattern(100 * 1000);
      std::string back(big.size(), '\0');
      auto [w, r] = co_await (write_all(*p.server, asio::buffer(big)) && read_exactly(*p.client, asio::buffer(back)));
      EXPECT_FALSE(w.ec) << w.ec.message();
      EXPECT_TRUE(back == big);
      EXPECT_FALSE(read_done) << "the read must still be waiting for the client";
      auto [wec, wn] = co_await asio::async_write(*p.client, asio::buffer(std::string("after")), use_tuple);
      EXPECT_FALSE(wec);
    };
    const auto rec = co_await (reader() && writer());
    EXPECT_FALSE(rec) << rec.message();
    EXPECT_EQ(got, "after");
  });
}

TEST_F(Fixture, ClosingNotifyReadsAsEof) {
  run([&]() -> asio::awaitable<void> {
    auto p = co_await connect();
    char byte = 0;
    // The client's shutdown waits for ours, which the server sends once it has read the close.
    auto server_side = [&]() -> asio::awaitable<void> {
      auto [ec, n] = co_await p.server->async_read_some(asio::buffer(&byte, 1), use_tuple);
      EXPECT_EQ(ec, asio::error::eof) << ec.message();
      p.server->next_layer().expires_after(5s);
      auto [sec] = co_await p.server->async_shutdown(use_tuple);
      EXPECT_FALSE(sec) << sec.message();
    };
    const auto c = co_await (shutdown(*p.client) && server_side());
    EXPECT_FALSE(c.ec) << c.ec.message();
  });
}

TEST_F(Fixture, ShutdownWaitsForThePeersCloseNotify) {
  run([&]() -> asio::awaitable<void> {
    auto p = co_await connect();
    char byte = 0;
    auto client_side = [&]() -> asio::awaitable<void> {
      auto [ec, n] = co_await p.client->async_read_some(asio::buffer(&byte, 1), use_tuple);
      EXPECT_EQ(ec, asio::error::eof) << ec.message();
      auto [sec] = co_await p.client->async_shutdown(use_tuple);
      EXPECT_FALSE(sec) << sec.message();
    };
    p.server->next_layer().expires_after(5s);
    const auto s = co_await (shutdown(*p.server) && client_side());
    EXPECT_FALSE(s.ec) << s.ec.message();
  });
}

TEST_F(Fixture, ShutdownEndsWhenTheTcpTimeoutFires) {
  run([&]() -> asio::awaitable<void> {
    auto p = co_await connect();
    p.server->next_layer().expires_after(100ms);
    const auto start = std::chrono::steady_clock::now();
    auto [ec] = co_await p.server->async_shutdown(use_tuple);  // the client never answers
    EXPECT_EQ(ec, boost::beast::error::timeout) << ec.message();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  });
}

TEST_F(Fixture, TcpCloseWithoutCloseNotifyIsTruncation) {
  run([&]() -> asio::awaitable<void> {
    auto p = co_await connect();
    // A FIN without a close_notify (a close() would reset: the client left the tickets unread).
    p.client->lowest_layer().shutdown(tcp::socket::shutdown_send);
    char byte = 0;
    auto [ec, n] = co_await p.server->async_read_some(asio::buffer(&byte, 1), use_tuple);
    EXPECT_EQ(ec, ssl::error::stream_truncated) << ec.message();
  });
}

TEST_F(Fixture, GarbageFromThePeerIsAnSslCategoryError) {
  run([&]() -> asio::awaitable<void> {
    auto p = co_await connect();
    const std::string junk(64, 'x');  // not a TLS record
    co_await asio::async_write(p.client->next_layer(), asio::buffer(junk), use_tuple);
    char byte = 0;
    auto [ec, n] = co_await p.server->async_read_some(asio::buffer(&byte, 1), use_tuple);
    EXPECT_EQ(ec.category(), asio::error::get_ssl_category()) << ec.message();
  });
}

TEST_F(Fixture, APendingReadIsCancelledThroughItsSlotAndTheStreamStaysUsable) {
  run([&]() -> asio::awaitable<void> {
    auto p = co_await connect();
    asio::cancellation_signal signal;
    char byte = 0;
    boost::system::error_code read_ec;
    bool completed = false;
    p.server->async_read_some(asio::buffer(&byte, 1), asio::bind_cancellation_slot(signal.slot(),
                                                                                   [&](boost::system::error_code ec, std::size_t) {
                                                                                     read_ec = ec;
                                                                                     completed = true;
                                                                                   }));
    // Let the read reach the socket before cancelling it.
    asio::steady_timer pause(co_await asio::this_coro::executor, 20ms);
    co_await pause.async_wait(use_tuple);
    EXPECT_FALSE(completed);
    signal.emit(asio::cancellation_type::terminal);
    for (int i = 0; i < 100 && !completed; ++i) {
      pause.expires_after(1ms);
      co_await pause.async_wait(use_tuple);
    }
    EXPECT_TRUE(completed);
    if (!completed) co_return;
    EXPECT_EQ(read_ec, asio::error::operation_aborted) << read_ec.message();
    co_await echo(p, "still here");
  });
}

TEST_F(Fixture, AReadTimesOutThroughTheTcpStream) {
  run([&]() -> asio::awaitable<void> {
    auto p = co_await connect();
    p.server->next_layer().expires_after(100ms);
    char byte = 0;
    auto [ec, n] = co_await p.server->async_read_some(asio::buffer(&byte, 1), use_tuple);
    EXPECT_EQ(ec, boost::beast::error::timeout) << ec.message();
  });
}

TEST_F(Fixture, AnIdleStreamReleasesItsBuffersAndReadsTheNextRecord) {
  run([&]() -> asio::awaitable<void> {
    auto p = co_await connect();
    co_await echo(p, pattern(100 * 1000));
    EXPECT_GT(p.server->buffer_capacity(), 16u * 1024) << "a burst is read and written through heap buffers";
    // Released while a read waits for the next record, as the server's idle timer does.
    std::string got(9, '\0');
    auto reader = [&]() -> asio::awaitable<boost::system::error_code> {
      auto [ec, n] = co_await asio::async_read(*p.server, asio::buffer(got), use_tuple);
      co_return ec;
    };
    auto idle_then_send = [&]() -> asio::awaitable<void> {
      asio::steady_timer pause(co_await asio::this_coro::executor, 20ms);
      co_await pause.async_wait(use_tuple);
      p.server->release_buffers();
      EXPECT_EQ(p.server->buffer_capacity(), 0u);
      co_await asio::async_write(*p.client, asio::buffer(std::string("next one!")), use_tuple);
    };
    const auto rec = co_await (reader() && idle_then_send());
    EXPECT_FALSE(rec) << rec.message();
    EXPECT_EQ(got, "next one!");
    co_await echo(p, pattern(40 * 1000));
  });
}

}  // namespace
}  // namespace bastion::net
