// The echo server over real loopback sockets: keep-alive, both eras, limits, several threads.
#include "echo_server/echo_server.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <thread>

namespace bastion::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

class RunningServer {
 public:
  explicit RunningServer(ServerOptions options, EchoOptions echo = {})
      : server_(std::move(options), std::move(echo)) {
    auto bound = server_.bind();
    if (!bound) throw std::runtime_error("bind failed: " + bound.error().message());
    port_ = *bound;
    thread_ = std::thread([this] { server_.run(); });
  }
  ~RunningServer() {
    server_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  EchoServer& server() { return server_; }

 private:
  EchoServer server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

// A blocking keep-alive client connection with a receive timeout, so a broken server fails the
// test instead of hanging it.
class Client {
 public:
  explicit Client(std::uint16_t port) : stream_(ioc_) {
    stream_.expires_after(std::chrono::seconds(5));
    stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }

  http::response<http::string_body> send(http::request<http::string_body> req) {
    req.set(http::field::host, "127.0.0.1");
    req.prepare_payload();
    stream_.expires_after(std::chrono::seconds(5));
    http::write(stream_, req);
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    http::read(stream_, buffer_, parser);
    return parser.release();
  }

  http::response<http::string_body> post(std::string body, std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::request<http::string_body> req{http::verb::post, "/mcp", 11};
    req.set(http::field::content_type, "application/json");
    req.set(http::field::accept, "application/json, text/event-stream");
    for (auto& [k, v] : headers) req.set(k, v);
    req.body() = std::move(body);
    return send(std::move(req));
  }

  beast::tcp_stream& stream() { return stream_; }

 private:
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

// nginx's auth_request keeps its connections to the auth service alive: 204 and 401 must both
// leave the connection usable, and the token must come from the Authorization header.
TEST(EchoServerTest, AuthRouteOverOneKeepAliveConnection) {
  ServerOptions options;
  options.threads = 1;
  EchoOptions echo;
  echo.auth_token = "tok-123";
  RunningServer running(options, echo);
  Client client(running.port());
  auto check = [&](const char* authorization) {
    http::request<http::string_body> req{http::verb::get, "/auth", 11};
    if (authorization) req.set(http::field::authorization, authorization);
    auto res = client.send(std::move(req));
    EXPECT_TRUE(res.body().empty());
    EXPECT_TRUE(res.keep_alive());
    return res.result_int();
  };
  EXPECT_EQ(check("Bearer tok-123"), 204u);
  EXPECT_EQ(check(nullptr), 401u);
  EXPECT_EQ(check("Bearer tok-124"), 401u);
  EXPECT_EQ(check("Bearer tok-123"), 204u);
  EXPECT_EQ(running.server().requests(), 4u);
}

TEST(EchoServerTest, SessionEraOverOneKeepAliveConnection) {
  RunningServer running(ServerOptions{.threads = 2});
  Client client(running.port());
  auto init = client.post(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})");
  ASSERT_EQ(init.result_int(), 200);
  ASSERT_NE(init.find("Mcp-Session-Id"), init.end());
  std::string session(init["Mcp-Session-Id"]);
  EXPECT_EQ(init[http::field::content_type], "application/json");
  EXPECT_TRUE(init.keep_alive());

  auto ack = client.post(R"({"jsonrpc":"2.0","method":"notifications/initialized"})",
                         {{"Mcp-Session-Id", session}, {"MCP-Protocol-Version", "2025-11-25"}});
  EXPECT_EQ(ack.result_int(), 202);
  for (int i = 0; i < 50; ++i) {
    auto call = client.post(R"({"jsonrpc":"2.0","id":)" + std::to_string(i) +
                                R"(,"method":"tools/call","params":{"name":"echo","arguments":{"message":"m)" +
                                std::to_string(i) + R"("}}})",
                            {{"Mcp-Session-Id", session}, {"MCP-Protocol-Version", "2025-11-25"}});
    ASSERT_EQ(call.result_int(), 200);
    auto body = json::parse(call.body());
    EXPECT_EQ(body.at("id"), i);
    EXPECT_EQ(std::string(body.at("result").at("content").at(0).at("text").as_string()), "m" + std::to_string(i));
  }
  EXPECT_EQ(running.server().requests(), 52u);
}

TEST(EchoServerTest, StatelessEraAndTheRightHeaders) {
  RunningServer running(ServerOptions{.threads = 1});
  Client client(running.port());
  auto call = client.post(
      R"({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}})",
      {{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "tools/call"}, {"Mcp-Name", "echo"}});
  ASSERT_EQ(call.result_int(), 200);
  EXPECT_EQ(call.find("Mcp-Session-Id"), call.end());
  auto result = json::parse(call.body()).at("result");
  EXPECT_EQ(result.at("resultType"), "complete");
  EXPECT_EQ(result.at("content").at(0).at("text"), "hello");

  http::request<http::string_body> get{http::verb::get, "/mcp", 11};
  auto refused = client.send(get);
  EXPECT_EQ(refused.result_int(), 405);
  EXPECT_EQ(refused[http::field::allow], "POST, DELETE");
}

TEST(EchoServerTest, OversizedBodyIsRefusedAndTheConnectionClosed) {
  ServerOptions options{.threads = 1};
  options.max_body_bytes = 1024;
  RunningServer running(options);
  Client client(running.port());
  auto r = client.post(std::string(4096, ' '));
  EXPECT_EQ(r.result_int(), 413);
  EXPECT_FALSE(r.keep_alive());
}

TEST(EchoServerTest, ManyConnectionsAcrossThreads) {
  RunningServer running(ServerOptions{.threads = 2});
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&, t] {
      Client client(running.port());
      for (int i = 0; i < 20; ++i) {
        auto r = client.post(
            R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}})",
            {{"MCP-Protocol-Version", "2026-07-28"}, {"X-Client", std::to_string(t)}});
        if (r.result_int() == 200) ++ok;
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), 160);
}

TEST(EchoServerTest, ClientThatCloseIsAnsweredThenDisconnected) {
  RunningServer running(ServerOptions{.threads = 1});
  Client client(running.port());
  http::request<http::string_body> req{http::verb::post, "/mcp", 11};
  req.set(http::field::content_type, "application/json");
  req.set(http::field::connection, "close");
  req.body() = R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{}})";
  auto r = client.send(req);
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_FALSE(r.keep_alive());
  // The server closes its side: the next read ends with end-of-stream, not a timeout.
  beast::flat_buffer buffer;
  http::response<http::string_body> more;
  boost::system::error_code ec;
  client.stream().expires_after(std::chrono::seconds(5));
  http::read(client.stream(), buffer, more, ec);
  EXPECT_EQ(ec, http::error::end_of_stream);
}

TEST(EchoServerTest, StopWithOpenConnectionsReturns) {
  auto running = std::make_unique<RunningServer>(ServerOptions{.threads = 2});
  Client idle(running->port());
  auto r = idle.post(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{}})");
  EXPECT_EQ(r.result_int(), 200);
  running.reset();  // joins run(): must not wait for the idle keep-alive connection
  SUCCEED();
}

}  // namespace
}  // namespace bastion::bench
