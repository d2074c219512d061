// Integration tests for HttpClientPool against a small Beast/Asio server started in-process on
// 127.0.0.1:0. Server and client share one io_context; events, not sleeps, order them.
#include "net/client/http_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

namespace bastion::net::client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using asio::awaitable;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

// A one-shot event a coroutine can await with a bound.
class Event {
 public:
  explicit Event(asio::any_io_executor ex) : timer_(std::move(ex)) {}
  void set() {
    fired_ = true;
    timer_.cancel();
  }
  bool fired() const { return fired_; }
  awaitable<bool> wait(std::chrono::milliseconds timeout) {
    if (fired_) co_return true;
    timer_.expires_after(timeout);
    co_await timer_.async_wait(kTok);
    co_return fired_;
  }

 private:
  asio::steady_timer timer_;
  bool fired_ = false;
};

awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(kTok);
}

class TestServer {
  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  ssl::context* tls_;

 public:
  TestServer(asio::io_context& ioc, ssl::context* tls = nullptr)
      : ioc_(ioc),
        acceptor_(ioc, {asio::ip::make_address("127.0.0.1"), 0}),
        tls_(tls),
        go(ioc.get_executor()),
        request_seen(ioc.get_executor()),
        client_closed(ioc.get_executor()) {
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void stop() {
    boost::system::error_code ec;
    acceptor_.close(ec);
  }

  int accepted = 0;
  std::string last_sni;
  http::fields last_request_headers;
  Event go;             // test → server: send the rest of /chunked
  Event request_seen;   // server → test: a stalling request arrived
  Event client_closed;  // server → test: the client closed a stalled connection

 private:
  awaitable<void> accept_loop() {
    while (true) {
      auto [ec, socket] = co_await acceptor_.async_accept(kTok);
      if (ec) co_return;
      ++accepted;
      asio::co_spawn(ioc_, session(std::move(socket)), asio::detached);
    }
  }

  awaitable<void> session(tcp::socket socket) {
    if (!tls_) {
      co_await serve(socket);
      co_return;
    }
    ssl::stream<tcp::socket> stream(std::move(socket), *tls_);
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kTok);
    if (ec) co_return;
    if (const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name)) {
      last_sni = sni;
    }
    co_await serve(stream);
  }

  template <class Stream>
  awaitable<void> write_raw(Stream& s, std::string data) {
    co_await asio::async_write(s, asio::buffer(data), kTok);
  }

  // Waits until the client goes away (read fails), then reports it.
  template <class Stream>
  awaitable<void> wait_for_client_close(Stream& s) {
    char byte;
    for (int i = 0; i < 1000; ++i) {
      auto [ec, n] = co_await s.async_read_some(asio::buffer(&byte, 1), kTok);
      if (ec) break;
    }
    client_closed.set();
  }

  template <class Stream>
  awaitable<void> serve(Stream& s) {
    beast::flat_buffer buffer;
    for (int served = 0; served < 1000; ++served) {
      http::request<http::string_body> req;
      auto [ec, n] = co_await http::async_read(s, buffer, req, kTok);
      if (ec) co_return;
      last_request_headers = req.base();
      const std::string target(req.target());
      if (target == "/hello") {
        const std::string body = "hello " + std::to_string(served);
        co_await write_raw(s, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                                  std::to_string(body.size()) + "\r\n\r\n" + body);
      } else if (target == "/echo") {
        co_await write_raw(s, "HTTP/1.1 201 Created\r\nContent-Length: " +
                                  std::to_string(req.body().size()) + "\r\n\r\n" + req.body());
      } else if (target == "/close") {
        co_await write_raw(s,
                           "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
        co_return;
      } else if (target == "/silent-close") {
        // Keep-alive in the headers, but the server drops the connection right after.
        co_await write_raw(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        co_return;
      } else if (target == "/short-keep-alive") {
        co_await write_raw(
            s, "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 2\r\n\r\nok");
      } else if (target == "/chunked") {
        co_await write_raw(s,
                           "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
        co_await go.wait(10s);
        co_await write_raw(s, "6\r\nsecond\r\n0\r\n\r\n");
      } else if (target == "/stall-headers") {
        co_await write_raw(s, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n");
        request_seen.set();
        co_await wait_for_client_close(s);
        co_return;
      } else if (target == "/stall") {
        request_seen.set();
        co_await wait_for_client_close(s);
        co_return;
      } else if (target == "/big") {
        co_await write_raw(
            s, "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n" + std::string(1 << 20, 'x'));
      } else if (target == "/big-chunked") {
        std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (int i = 0; i < 32; ++i) out += "2000\r\n" + std::string(0x2000, 'y') + "\r\n";
        out += "0\r\n\r\n";
        co_await write_raw(s, out);
      } else if (target == "/big-header") {
        co_await write_raw(s, "HTTP/1.1 200 OK\r\nX-Big: " + std::string(100 * 1024, 'h') +
                                  "\r\nContent-Length: 0\r\n\r\n");
      } else if (target == "/interim") {
        co_await write_raw(s,
                           "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                           "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal");
      } else {
        co_await write_raw(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
      }
    }
  }
};

class HttpClientTest : public ::testing::Test {
 protected:
  void start(PoolOptions options = {}, ssl::context* tls = nullptr) {
    server = std::make_unique<TestServer>(ioc, tls);
    auto created = HttpClientPool::create(ioc.get_executor(), std::move(options));
    ASSERT_TRUE(created) << created.error().message();
    pool = *created;
  }

  std::string url(std::string_view path, std::string_view host = "127.0.0.1",
                  std::string_view scheme = "http") const {
    return std::string(scheme) + "://" + std::string(host) + ":" + std::to_string(server->port()) +
           std::string(path);
  }

  HttpRequest get(std::string_view path) const {
    HttpRequest r;
    r.url = url(path);
    return r;
  }

  // Runs one test coroutine to completion (bounded), rethrowing what it threw.
  template <class F>
  void run(F f) {
    bool done = false;
    std::exception_ptr failure;
    asio::co_spawn(ioc, std::move(f), [&](std::exception_ptr e) {
      done = true;
      failure = e;
      ioc.stop();
    });
    ioc.restart();
    ioc.run_for(30s);
    ASSERT_TRUE(done) << "test coroutine did not finish in time";
    if (failure) std::rethrow_exception(failure);
  }

  void TearDown() override {
    pool.reset();
    if (server) server->stop();
    ioc.restart();
    ioc.run_for(2s);  // let server sessions see the closed connections and end
  }

  asio::io_context ioc;
  std::unique_ptr<TestServer> server;
  std::shared_ptr<HttpClientPool> pool;
};

TEST_F(HttpClientTest, KeepAliveReusesOneConnection) {
  start();
  std::vector<std::string> bodies;
  run([&]() -> awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      auto r = co_await pool->fetch(get("/hello"));
      EXPECT_TRUE(r) << r.error().message();
      if (!r) co_return;
      EXPECT_EQ(r->status, 200u);
      bodies.push_back(r->body);
    }
  });
  EXPECT_EQ(bodies, (std::vector<std::string>{"hello 0", "hello 1", "hello 2"}));
  EXPECT_EQ(server->accepted, 1);
  const auto stats = pool->stats();
  EXPECT_EQ(stats.connections_opened, 1u);
  EXPECT_EQ(stats.connections_reused, 2u);
  EXPECT_EQ(stats.idle, 1u);
}

TEST_F(HttpClientTest, SendsMethodBodyAndHeaders) {
  start();
  std::optional<BufferedResponse> response;
  run([&]() -> awaitable<void> {
    HttpRequest r;
    r.method = http::verb::post;
    r.url = url("/echo");
    r.headers = {{"Content-Type", "application/json"}, {"X-Custom", "value-1"}};
    r.body = R"({"a":1})";
    auto result = co_await pool->fetch(std::move(r));
    EXPECT_TRUE(result) << result.error().message();
    if (result) response = std::move(*result);
  });
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 201u);
  EXPECT_EQ(response->body, R"({"a":1})");
  EXPECT_EQ(server->last_request_headers["X-Custom"], "value-1");
  EXPECT_EQ(server->last_request_headers["Host"], "127.0.0.1:" + std::to_string(server->port()));
  EXPECT_EQ(server->last_request_headers["Content-Length"], "7");
}

TEST_F(HttpClientTest, ConcurrentRequestsUseSeparateConnectionsAndIdleIsBounded) {
  PoolOptions options;
  options.max_idle_per_origin = 1;
  start(options);
  bool both_ok = false;
  run([&]() -> awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    auto [a, b] = co_await (pool->fetch(get("/hello")) && pool->fetch(get("/hello")));
    both_ok = a && b;
  });
  EXPECT_TRUE(both_ok);
  EXPECT_EQ(server->accepted, 2);
  EXPECT_EQ(pool->stats().idle, 1u);  // the second finished connection exceeded the bound
}

TEST_F(HttpClientTest, ConnectionCloseIsNotReused) {
  start();
  run([&]() -> awaitable<void> {
    for (int i = 0; i < 2; ++i) {
      auto r = co_await pool->fetch(get("/close"));
      EXPECT_TRUE(r && r->body == "ok");
    }
  });
  EXPECT_EQ(server->accepted, 2);
  EXPECT_EQ(pool->stats().idle, 0u);
}

TEST_F(HttpClientTest, IdleConnectionsExpire) {
  PoolOptions options;
  options.idle_timeout = 50ms;
  start(options);
  run([&]() -> awaitable<void> {
    auto first = co_await pool->fetch(get("/hello"));
    EXPECT_TRUE(first);
    co_await sleep_for(150ms);  // the behaviour under test is time itself
    auto second = co_await pool->fetch(get("/hello"));
    EXPECT_TRUE(second);
  });
  EXPECT_EQ(server->accepted, 2);
}

TEST_F(HttpClientTest, ServerKeepAliveTimeoutHintIsHonoured) {
  start();
  run([&]() -> awaitable<void> {
    auto first = co_await pool->fetch(get("/short-keep-alive"));
    EXPECT_TRUE(first);
    co_await sleep_for(600ms);  // timeout=1 → reuse for at most 0.5 s
    auto second = co_await pool->fetch(get("/hello"));
    EXPECT_TRUE(second);
  });
  EXPECT_EQ(server->accepted, 2);
}

TEST_F(HttpClientTest, ConnectionClosedByServerWhileIdleIsReplaced) {
  start();
  run([&]() -> awaitable<void> {
    auto first = co_await pool->fetch(get("/silent-close"));
    EXPECT_TRUE(first);
    auto second = co_await pool->fetch(get("/hello"));
    EXPECT_TRUE(second) << second.error().message();
    if (second) {
      EXPECT_EQ(second->body, "hello 0");
    }
  });
  EXPECT_EQ(server->accepted, 2);
}

TEST_F(HttpClientTest, InterimResponsesAreSkipped) {
  start();
  std::string body;
  run([&]() -> awaitable<void> {
    auto r = co_await pool->fetch(get("/interim"));
    EXPECT_TRUE(r);
    if (r) body = r->body;
  });
  EXPECT_EQ(body, "final");
}

TEST_F(HttpClientTest, ChunkedBodyIsStreamedAsItArrives) {
  start();
  std::vector<std::string> chunks;
  bool go_was_set_before_first_chunk = true;
  std::string content_type;
  run([&]() -> awaitable<void> {
    auto response = co_await pool->request(get("/chunked"));
    EXPECT_TRUE(response);
    if (!response) co_return;
    content_type = response->content_type();
    auto first = co_await response->read_some();
    EXPECT_TRUE(first);
    if (!first) co_return;
    go_was_set_before_first_chunk = server->go.fired();
    chunks.push_back(*first);
    server->go.set();  // the server sends the rest only now
    for (int i = 0; i < 10 && !response->body_done(); ++i) {
      auto next = co_await response->read_some();
      EXPECT_TRUE(next);
      if (!next) co_return;
      if (!next->empty()) chunks.push_back(*next);
    }
    EXPECT_TRUE(response->body_done());
  });
  EXPECT_FALSE(go_was_set_before_first_chunk);
  EXPECT_EQ(content_type, "text/event-stream");
  EXPECT_EQ(chunks, (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(pool->stats().idle, 1u);  // fully read, keep-alive: back in the pool
}

TEST_F(HttpClientTest, StalledHeadersTimeOut) {
  PoolOptions options;
  options.io_timeout = 200ms;
  start(options);
  boost::system::error_code error;
  Clock::duration took{};
  bool server_saw_close = false;
  run([&]() -> awaitable<void> {
    const auto begin = Clock::now();
    auto r = co_await pool->request(get("/stall-headers"));
    took = Clock::now() - begin;
    EXPECT_FALSE(r);
    if (!r) error = r.error();
    server_saw_close = co_await server->client_closed.wait(5s);
  });
  EXPECT_EQ(error, HttpClientErrc::timeout) << error.message();
  EXPECT_LT(took, 3s);
  EXPECT_TRUE(server_saw_close);
  EXPECT_EQ(pool->stats().idle, 0u);
}

TEST_F(HttpClientTest, DeadlineBoundsTheWholeExchange) {
  start();
  boost::system::error_code error;
  Clock::duration took{};
  run([&]() -> awaitable<void> {
    auto r = get("/stall");
    r.deadline = Clock::now() + 200ms;
    const auto begin = Clock::now();
    auto response = co_await pool->request(std::move(r));
    took = Clock::now() - begin;
    if (!response) error = response.error();
  });
  EXPECT_EQ(error, HttpClientErrc::timeout);
  EXPECT_LT(took, 3s);
}

TEST_F(HttpClientTest, StalledBodyReadTimesOut) {
  start();
  boost::system::error_code error;
  run([&]() -> awaitable<void> {
    auto response = co_await pool->request(get("/chunked"));
    EXPECT_TRUE(response);
    if (!response) co_return;
    auto first = co_await response->read_some();
    EXPECT_TRUE(first && *first == "first");
    response->set_io_timeout(150ms);
    auto second = co_await response->read_some();
    EXPECT_FALSE(second);
    if (!second) error = second.error();
    server->go.set();
  });
  EXPECT_EQ(error, HttpClientErrc::timeout);
  EXPECT_EQ(pool->stats().idle, 0u);
}

TEST_F(HttpClientTest, ContentLengthBeyondBodyLimitFails) {
  start();
  boost::system::error_code error;
  run([&]() -> awaitable<void> {
    auto r = get("/big");
    r.max_body_bytes = 64 * 1024;
    auto response = co_await pool->fetch(std::move(r));
    EXPECT_FALSE(response);
    if (!response) error = response.error();
  });
  EXPECT_EQ(error, HttpClientErrc::body_too_large) << error.message();
  EXPECT_EQ(pool->stats().idle, 0u);
}

TEST_F(HttpClientTest, ChunkedBodyBeyondLimitFails) {
  PoolOptions options;
  options.max_body_bytes = 64 * 1024;
  start(options);
  boost::system::error_code error;
  std::size_t read_in_limit = 0;
  run([&]() -> awaitable<void> {
    auto response = co_await pool->fetch(get("/big-chunked"));
    EXPECT_FALSE(response);
    if (!response) error = response.error();
    // read_body() enforces its own limit on an unbounded stream as well.
    auto r = get("/big-chunked");
    r.max_body_bytes = std::numeric_limits<std::size_t>::max();
    auto stream = co_await pool->request(std::move(r));
    EXPECT_TRUE(stream);
    if (!stream) co_return;
    auto body = co_await stream->read_body(100 * 1024);
    EXPECT_FALSE(body);
    if (!body) {
      EXPECT_EQ(body.error(), HttpClientErrc::body_too_large);
    }
    auto full = co_await pool->fetch([&] {
      auto req = get("/big-chunked");
      req.max_body_bytes = 1 << 20;
      return req;
    }());
    EXPECT_TRUE(full);
    if (full) read_in_limit = full->body.size();
  });
  EXPECT_EQ(error, HttpClientErrc::body_too_large) << error.message();
  EXPECT_EQ(read_in_limit, 32u * 0x2000u);
}

TEST_F(HttpClientTest, HeaderBeyondLimitFails) {
  PoolOptions options;
  options.max_header_bytes = 8 * 1024;
  start(options);
  boost::system::error_code error;
  run([&]() -> awaitable<void> {
    auto response = co_await pool->fetch(get("/big-header"));
    if (!response) error = response.error();
  });
  EXPECT_EQ(error, HttpClientErrc::header_too_large) << error.message();
}

TEST_F(HttpClientTest, CancellationAbortsRequestAndDropsConnection) {
  start();
  asio::cancellation_signal cancel;
  std::optional<boost::system::result<HttpResponse>> outcome;
  asio::co_spawn(
      ioc, [&]() -> awaitable<void> { outcome.emplace(co_await pool->request(get("/stall"))); },
      asio::bind_cancellation_slot(cancel.slot(), asio::detached));
  bool server_saw_close = false;
  int accepted_after = 0;
  run([&]() -> awaitable<void> {
    EXPECT_TRUE(co_await server->request_seen.wait(5s));
    cancel.emit(asio::cancellation_type::terminal);
    server_saw_close = co_await server->client_closed.wait(5s);
    auto next = co_await pool->fetch(get("/hello"));
    EXPECT_TRUE(next);
    accepted_after = server->accepted;
  });
  ASSERT_TRUE(outcome.has_value());
  ASSERT_FALSE(*outcome);
  EXPECT_EQ(outcome->error(), asio::error::operation_aborted);
  EXPECT_TRUE(server_saw_close);
  EXPECT_EQ(accepted_after, 2);
}

TEST_F(HttpClientTest, CancellationDuringBodyDropsConnection) {
  start();
  asio::cancellation_signal cancel;
  Event first_chunk(ioc.get_executor());
  Event finished(ioc.get_executor());
  boost::system::error_code error;
  asio::co_spawn(
      ioc,
      [&]() -> awaitable<void> {
        auto response = co_await pool->request(get("/chunked"));
        if (!response) co_return;
        auto first = co_await response->read_some();
        first_chunk.set();
        auto second = co_await response->read_some();
        if (!second) error = second.error();
        finished.set();
      },
      asio::bind_cancellation_slot(cancel.slot(), asio::detached));
  run([&]() -> awaitable<void> {
    EXPECT_TRUE(co_await first_chunk.wait(5s));
    cancel.emit(asio::cancellation_type::terminal);
    EXPECT_TRUE(co_await finished.wait(5s));
    server->go.set();
  });
  EXPECT_EQ(error, asio::error::operation_aborted);
  EXPECT_EQ(pool->stats().idle, 0u);
  EXPECT_EQ(pool->stats().connections_opened, 1u);
}

TEST_F(HttpClientTest, RejectsBadUrlsAndHeaders) {
  start();
  std::vector<boost::system::error_code> errors;
  run([&]() -> awaitable<void> {
    for (std::string u : {"ftp://127.0.0.1/x", "not a url", "http://user:pw@127.0.0.1/",
                          "http://127.0.0.1:99999/"}) {
      HttpRequest r;
      r.url = u;
      auto response = co_await pool->request(std::move(r));
      errors.push_back(response ? boost::system::error_code{} : response.error());
    }
    auto r = get("/hello");
    r.headers = {{"X-Injected", "a\r\nEvil: 1"}};
    auto response = co_await pool->request(std::move(r));
    errors.push_back(response ? boost::system::error_code{} : response.error());
  });
  ASSERT_EQ(errors.size(), 5u);
  EXPECT_EQ(errors[0], HttpClientErrc::unsupported_scheme);
  EXPECT_EQ(errors[1], HttpClientErrc::invalid_url);
  EXPECT_EQ(errors[2], HttpClientErrc::invalid_url);
  EXPECT_EQ(errors[3], HttpClientErrc::invalid_url);
  EXPECT_EQ(errors[4], HttpClientErrc::invalid_header);
  EXPECT_EQ(server->accepted, 0);
}

TEST_F(HttpClientTest, ConnectionRefusedIsAnError) {
  start();
  std::uint16_t closed_port = 0;
  {
    tcp::acceptor probe(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    closed_port = probe.local_endpoint().port();
  }
  boost::system::error_code error;
  run([&]() -> awaitable<void> {
    HttpRequest r;
    r.url = "http://127.0.0.1:" + std::to_string(closed_port) + "/";
    auto response = co_await pool->request(std::move(r));
    if (!response) error = response.error();
  });
  EXPECT_EQ(error, asio::error::connection_refused) << error.message();
}

TEST_F(HttpClientTest, ConnectTimesOutWhenBacklogIsFull) {
  start();
  // A listener that never accepts, with its accept queue filled: further SYNs are dropped.
  tcp::acceptor full(ioc);
  full.open(tcp::v4());
  full.bind({asio::ip::make_address("127.0.0.1"), 0});
  full.listen(0);
  const auto port = full.local_endpoint().port();
  std::vector<std::unique_ptr<tcp::socket>> fillers;
  boost::system::error_code error;
  Clock::duration took{};
  run([&]() -> awaitable<void> {
    for (int i = 0; i < 2; ++i) {
      fillers.push_back(std::make_unique<tcp::socket>(ioc));
      asio::steady_timer bound(ioc, 300ms);
      // Connect the fillers one by one, giving each a bounded chance to land in the queue.
      using namespace asio::experimental::awaitable_operators;
      co_await (fillers.back()->async_connect({asio::ip::make_address("127.0.0.1"), port},
                                              asio::as_tuple(asio::use_awaitable)) ||
                bound.async_wait(asio::as_tuple(asio::use_awaitable)));
    }
    HttpRequest r;
    r.url = "http://127.0.0.1:" + std::to_string(port) + "/";
    r.connect_timeout = 300ms;
    const auto begin = Clock::now();
    auto response = co_await pool->request(std::move(r));
    took = Clock::now() - begin;
    if (!response) error = response.error();
  });
  EXPECT_EQ(error, HttpClientErrc::connect_timeout) << error.message();
  EXPECT_LT(took, 3s);
}

// --- TLS -------------------------------------------------------------------------------------

class TlsFixture {
 public:
  TlsFixture() {
    char tmpl[] = "/tmp/bastion-http-tls-XXXXXX";
    if (!mkdtemp(tmpl)) return;
    dir_ = tmpl;
    const auto d = dir_.string();
    std::ofstream(dir_ / "ext.cnf") << "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n"
                                       "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n";
    const std::string quiet = " >/dev/null 2>&1";
    const std::string script =
        "cd " + d +
        " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        "-keyout ca.key -out ca.pem -days 2 -subj /CN=BastionTestCA "
        "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign" +
        quiet +
        " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key "
        "-out server.csr -subj /CN=localhost" +
        quiet +
        " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out server.pem -days 2 -extfile ext.cnf" +
        quiet;
    ok_ = std::system(script.c_str()) == 0;
  }
  ~TlsFixture() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  bool ok() const { return ok_; }
  std::string ca() const { return (dir_ / "ca.pem").string(); }
  std::unique_ptr<ssl::context> server_context() const {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    ctx->use_certificate_chain_file((dir_ / "server.pem").string());
    ctx->use_private_key_file((dir_ / "server.key").string(), ssl::context::pem);
    return ctx;
  }

 private:
  std::filesystem::path dir_;
  bool ok_ = false;
};

class HttpClientTlsTest : public HttpClientTest {
 protected:
  void SetUp() override {
    if (!tls.ok()) GTEST_SKIP() << "openssl CLI could not create test certificates";
    server_tls = tls.server_context();
  }
  TlsFixture tls;
  std::unique_ptr<ssl::context> server_tls;
};

TEST_F(HttpClientTlsTest, VerifiedHttpsWithKeepAliveAndSni) {
  PoolOptions options;
  options.ca_file = tls.ca();
  start(options, server_tls.get());
  std::vector<std::string> bodies;
  run([&]() -> awaitable<void> {
    for (int i = 0; i < 2; ++i) {
      HttpRequest r;
      r.url = url("/hello", "localhost", "https");
      auto response = co_await pool->fetch(std::move(r));
      EXPECT_TRUE(response) << response.error().message();
      if (response) bodies.push_back(response->body);
    }
  });
  EXPECT_EQ(bodies, (std::vector<std::string>{"hello 0", "hello 1"}));
  EXPECT_EQ(server->accepted, 1);
  EXPECT_EQ(server->last_sni, "localhost");
}

TEST_F(HttpClientTlsTest, UntrustedCertificateIsRejected) {
  start({}, server_tls.get());  // system CAs only
  boost::system::error_code error;
  run([&]() -> awaitable<void> {
    HttpRequest r;
    r.url = url("/hello", "localhost", "https");
    auto response = co_await pool->fetch(std::move(r));
    if (!response) error = response.error();
  });
  ASSERT_TRUE(error);
  EXPECT_NE(error.message().find("certificate verify failed"), std::string::npos)
      << error.message();
}

TEST_F(HttpClientTlsTest, HostNameMismatchIsRejected) {
  PoolOptions options;
  options.ca_file = tls.ca();
  start(options, server_tls.get());
  boost::system::error_code error;
  run([&]() -> awaitable<void> {
    HttpRequest r;
    r.url = url("/hello", "127.0.0.1", "https");  // the certificate names only localhost
    auto response = co_await pool->fetch(std::move(r));
    if (!response) error = response.error();
  });
  ASSERT_TRUE(error);
  EXPECT_NE(error.message().find("certificate verify failed"), std::string::npos)
      << error.message();
}

TEST_F(HttpClientTlsTest, MissingCaFileFailsCreation) {
  PoolOptions options;
  options.ca_file = "/nonexistent/ca.pem";
  auto created = HttpClientPool::create(ioc.get_executor(), options);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error(), HttpClientErrc::tls_setup_failed);
}

}  // namespace
}  // namespace bastion::net::client
