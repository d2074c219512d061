// Integration tests for McpHttpClient:
//  * against the real @modelcontextprotocol/server-everything (streamable HTTP and legacy SSE),
//    started as a child process bound to 127.0.0.1 (skipped when the npm package is missing;
//    BASTION_NPM_DIR points at the folder holding node_modules, set by ctest to tests/integration);
//  * against a scripted in-process HTTP server for what server-everything never does
//    (SSE polling/resumption, 404 session expiry, error bodies, hostile legacy endpoints).
#include "upstream/http/mcp_http_client.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace bastion::upstream::http {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
namespace bhttp = boost::beast::http;
using asio::awaitable;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using net::client::HttpClientErrc;
using net::client::HttpClientPool;

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

// ---------------------------------------------------------------------------------------------
// server-everything as a child process

struct NodeInstall {
  std::string node;
  std::string script;
};

std::optional<NodeInstall> find_server_everything(std::string& why) {
  const char* env = std::getenv("BASTION_NPM_DIR");
  const std::filesystem::path npm = env && *env ? env : "tests/integration";
  const auto script = npm / "node_modules/@modelcontextprotocol/server-everything/dist/index.js";
  if (!std::filesystem::exists(script)) {
    why = "@modelcontextprotocol/server-everything not installed under " + npm.string() +
          " (set BASTION_NPM_DIR)";
    return std::nullopt;
  }
  for (const auto& node :
       {npm / "node_modules/.bin/node", std::filesystem::path("/usr/bin/node")}) {
    if (::access(node.c_str(), X_OK) == 0) return NodeInstall{node.string(), script.string()};
  }
  why = "no node binary (BASTION_NPM_DIR/node_modules/.bin/node or /usr/bin/node)";
  return std::nullopt;
}

std::uint16_t free_loopback_port() {
  asio::io_context ioc;
  tcp::acceptor probe(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  return probe.local_endpoint().port();
}

class NodeServer {
 public:
  // mode: "streamableHttp" or "sse". Returns an error text, empty on success.
  std::string start(const NodeInstall& install, const std::string& mode) {
    char tmpl[] = "/tmp/bastion-mcp-http-XXXXXX";
    if (!mkdtemp(tmpl)) return "mkdtemp failed";
    dir_ = tmpl;
    // server-everything listens on every interface; this preload pins it to loopback.
    const auto preload = (dir_ / "loopback.cjs").string();
    std::ofstream(preload) << R"JS(
const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const port = args[0];
  if ((typeof port === 'number' || typeof port === 'string') && typeof args[1] !== 'string') {
    args.splice(1, 0, '127.0.0.1');
  }
  return listen.apply(this, args);
};
)JS";
    log_ = (dir_ / "server.log").string();
    port = free_loopback_port();

    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
      if (std::string_view(*e).substr(0, 5) != "PORT=") env_strings.emplace_back(*e);
    }
    env_strings.push_back("PORT=" + std::to_string(port));
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = {install.node, "-r", preload, install.script, mode};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const int rc =
        posix_spawn(&pid_, install.node.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      return "posix_spawn failed: " + std::string(std::strerror(rc));
    }
    // Wait until the port accepts (an external process: polling is the only signal), bounded.
    for (int attempt = 0; attempt < 300; ++attempt) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "server-everything exited early:\n" + log();
      }
      asio::io_context ioc;
      tcp::socket probe(ioc);
      boost::system::error_code ec;
      probe.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
      if (!ec) return {};
      std::this_thread::sleep_for(50ms);
    }
    return "server-everything did not listen within 15 s:\n" + log();
  }

  std::string log() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  ~NodeServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      bool reaped = false;
      for (int i = 0; i < 250 && !reaped; ++i) {  // up to 5 s for a clean exit
        reaped = ::waitpid(pid_, &status, WNOHANG) == pid_;
        if (!reaped) std::this_thread::sleep_for(20ms);
      }
      if (!reaped) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
    }
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  std::uint16_t port = 0;

 private:
  pid_t pid_ = -1;
  std::filesystem::path dir_;
  std::string log_;
};

// ---------------------------------------------------------------------------------------------
// Shared test plumbing

// Collects what the MessageHandler receives and lets a coroutine wait for a condition.
class Inbox {
 public:
  explicit Inbox(asio::any_io_executor ex) : timer_(std::move(ex)) {}
  void push(json::value message) {
    messages.push_back(std::move(message));
    timer_.cancel();
  }
  awaitable<bool> wait_until(std::function<bool()> ready, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!ready()) {  // each pass waits for a new message or the deadline
      if (Clock::now() >= deadline) co_return false;
      timer_.expires_at(deadline);
      co_await timer_.async_wait(kTok);
    }
    co_return true;
  }
  std::optional<std::size_t> index_of_response(std::int64_t id) const {
    for (std::size_t i = 0; i < messages.size(); ++i) {
      const auto* o = messages[i].if_object();
      if (o && !o->contains("method") && o->contains("id") && (*o).at("id").is_int64() &&
          (*o).at("id").as_int64() == id) {
        return i;
      }
    }
    return std::nullopt;
  }
  bool has_response(std::int64_t id) const { return index_of_response(id).has_value(); }
  std::vector<std::size_t> indexes_of(std::string_view method) const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < messages.size(); ++i) {
      const auto* o = messages[i].if_object();
      const auto* m = o ? o->if_contains("method") : nullptr;
      if (m && m->is_string() && m->as_string() == method) out.push_back(i);
    }
    return out;
  }

  std::vector<json::value> messages;

 private:
  asio::steady_timer timer_;
};

json::value initialize_request(std::int64_t id, std::string_view version = "2025-11-25") {
  json::object params{{"protocolVersion", version},
                      {"capabilities", json::object{}},
                      {"clientInfo", {{"name", "bastion-test"}, {"version", "0.1"}}}};
  return {{"jsonrpc", "2.0"}, {"id", id}, {"method", "initialize"}, {"params", params}};
}

json::value notification(std::string_view method) {
  return {{"jsonrpc", "2.0"}, {"method", method}};
}

json::value request(std::int64_t id, std::string_view method, json::object params = {}) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}};
}

json::value long_running_call(std::int64_t id, int duration, int steps, std::string_view token) {
  return request(id, "tools/call",
                 {{"name", "trigger-long-running-operation"},
                  {"arguments", {{"duration", duration}, {"steps", steps}}},
                  {"_meta", {{"progressToken", token}}}});
}

const McpHttpClient::Headers kV1125 = {{"MCP-Protocol-Version", "2025-11-25"}};

class McpHttpClientTestBase : public ::testing::Test {
 protected:
  std::shared_ptr<McpHttpClient> make_client(Options options) {
    auto created = HttpClientPool::create(ioc.get_executor());
    EXPECT_TRUE(created);
    pool = *created;
    return std::make_shared<McpHttpClient>(
        ioc.get_executor(), pool, std::move(options),
        [this](json::value message) { inbox.push(std::move(message)); });
  }

  template <class F>
  void run(F f, std::chrono::seconds bound = 60s) {
    bool done = false;
    std::exception_ptr failure;
    asio::co_spawn(ioc, std::move(f), [&](std::exception_ptr e) {
      done = true;
      failure = e;
      ioc.stop();
    });
    ioc.restart();
    ioc.run_for(bound);
    ASSERT_TRUE(done) << "test coroutine did not finish in time";
    if (failure) std::rethrow_exception(failure);
  }

  void TearDown() override {
    pool.reset();
    ioc.restart();
    ioc.run_for(2s);  // let closed connections and background coroutines unwind
  }

  asio::io_context ioc;
  Inbox inbox{ioc.get_executor()};
  std::shared_ptr<HttpClientPool> pool;
};

// ---------------------------------------------------------------------------------------------
// Against server-everything, streamable HTTP

class EverythingStreamableTest : public McpHttpClientTestBase {
 protected:
  static void SetUpTestSuite() {
    auto install = find_server_everything(skip_reason_);
    if (!install) return;
    server_ = new NodeServer;
    start_error_ = server_->start(*install, "streamableHttp");
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    // Under ctest BASTION_NPM_DIR is always set: a missing peer is then a failure, not a skip.
    if (!server_ && std::getenv("BASTION_NPM_DIR")) FAIL() << skip_reason_;
    if (!server_) GTEST_SKIP() << skip_reason_;
    ASSERT_TRUE(start_error_.empty()) << start_error_;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port) + "/mcp"; }

  static inline NodeServer* server_ = nullptr;
  static inline std::string skip_reason_;
  static inline std::string start_error_;
};

TEST_F(EverythingStreamableTest, InitializeListCallWithProgressAndClose) {
  Options options;
  options.url = url();
  options.transport = Options::Transport::streamable;
  auto client = make_client(options);
  SendOutcome init, initialized, list, call;
  std::optional<std::string> session, session_after_close;
  unsigned stale_session_status = 0;
  run([&]() -> awaitable<void> {
    init = co_await client->send_detailed(initialize_request(1));
    session = client->session_id();
    initialized = co_await client->send_detailed(notification("notifications/initialized"), kV1125);
    auto list_headers = kV1125;
    list_headers.emplace_back("Mcp-Method", "tools/list");
    list = co_await client->send_detailed(request(2, "tools/list"), list_headers);
    call = co_await client->send_detailed(long_running_call(3, 1, 3, "tok-3"), kV1125);
    co_await client->close();
    session_after_close = client->session_id();

    // The DELETE ended the session on the server: the old id is refused now.
    net::client::HttpRequest raw;
    raw.method = bhttp::verb::post;
    raw.url = url();
    raw.headers = {{"Accept", "application/json, text/event-stream"},
                   {"Content-Type", "application/json"},
                   {"Mcp-Session-Id", session.value_or("")},
                   {"MCP-Protocol-Version", "2025-11-25"}};
    raw.body = json::serialize(request(9, "tools/list"));
    auto reply = co_await pool->fetch(std::move(raw));
    if (reply) stale_session_status = reply->status;
  });

  EXPECT_FALSE(init.ec) << init.ec.message() << " " << init.error_body;
  ASSERT_TRUE(session.has_value());
  EXPECT_FALSE(session->empty());
  EXPECT_FALSE(initialized.ec) << initialized.ec.message();
  EXPECT_EQ(initialized.http_status, 202u);
  EXPECT_FALSE(list.ec) << list.ec.message();
  EXPECT_FALSE(call.ec) << call.ec.message();

  const auto init_at = inbox.index_of_response(1);
  ASSERT_TRUE(init_at);
  const auto& init_result = inbox.messages[*init_at].at("result");
  EXPECT_EQ(init_result.at("protocolVersion").as_string(), "2025-11-25");
  EXPECT_TRUE(init_result.as_object().contains("serverInfo"));

  const auto list_at = inbox.index_of_response(2);
  ASSERT_TRUE(list_at);
  bool has_long_running = false;
  for (const auto& tool : inbox.messages[*list_at].at("result").at("tools").as_array()) {
    has_long_running = has_long_running || tool.at("name") == "trigger-long-running-operation";
  }
  EXPECT_TRUE(has_long_running);

  // Progress notifications, in order, then the response.
  const auto call_at = inbox.index_of_response(3);
  ASSERT_TRUE(call_at);
  const auto progress = inbox.indexes_of("notifications/progress");
  ASSERT_EQ(progress.size(), 3u);
  for (std::size_t i = 0; i < progress.size(); ++i) {
    const auto& params = inbox.messages[progress[i]].at("params");
    EXPECT_EQ(params.at("progressToken"), "tok-3");
    EXPECT_EQ(params.at("progress").to_number<double>(), static_cast<double>(i + 1));
    EXPECT_LT(progress[i], *call_at);
  }
  const auto text = inbox.messages[*call_at].at("result").at("content").at(0).at("text");
  EXPECT_NE(std::string(text.as_string()).find("Long running operation completed"),
            std::string::npos);

  EXPECT_FALSE(session_after_close.has_value());
  EXPECT_TRUE(stale_session_status == 400u || stale_session_status == 404u) << stale_session_status;
  // Keep-alive: the whole exchange needed only a few connections.
  EXPECT_LE(pool->stats().connections_opened, 3u);
}

TEST_F(EverythingStreamableTest, AutoDetectChoosesStreamable) {
  Options options;
  options.url = url();
  auto client = make_client(options);
  boost::system::error_code init;
  run([&]() -> awaitable<void> {
    init = co_await client->send(initialize_request(1, "2025-06-18"));
    co_await client->close();
  });
  EXPECT_FALSE(init) << init.message();
  EXPECT_EQ(client->transport(), Options::Transport::streamable);
  const auto at = inbox.index_of_response(1);
  ASSERT_TRUE(at);
  EXPECT_EQ(inbox.messages[*at].at("result").at("protocolVersion"), "2025-06-18");
}

TEST_F(EverythingStreamableTest, ListenStreamDeliversServerNotifications) {
  Options options;
  options.url = url();
  auto client = make_client(options);
  bool got_log = false;
  Clock::duration close_took{};
  run([&]() -> awaitable<void> {
    EXPECT_FALSE(co_await client->send(initialize_request(1)));
    EXPECT_FALSE(co_await client->send(notification("notifications/initialized"), kV1125));
    client->open_listen_stream();
    // (initializer lists are built outside co_await: GCC 12 miscompiles them inside)
    const auto toggle = request(
        2, "tools/call", {{"name", "toggle-simulated-logging"}, {"arguments", json::object{}}});
    EXPECT_FALSE(co_await client->send(toggle, kV1125));
    // One log message right away on the standalone stream, then one every 5 s.
    got_log = co_await inbox.wait_until(
        [&] { return !inbox.indexes_of("notifications/message").empty(); }, 15s);
    const auto begin = Clock::now();
    co_await client->close();
    close_took = Clock::now() - begin;
  });
  EXPECT_TRUE(got_log);
  EXPECT_LT(close_took, 4s);  // the listen stream was stopped, not waited out
}

TEST_F(EverythingStreamableTest, CancellingSendAbortsIt) {
  Options options;
  options.url = url();
  auto client = make_client(options);
  asio::cancellation_signal cancel;
  std::optional<boost::system::error_code> outcome;
  bool saw_progress = false;
  Clock::duration cancel_took{};
  run([&]() -> awaitable<void> {
    EXPECT_FALSE(co_await client->send(initialize_request(1)));
    EXPECT_FALSE(co_await client->send(notification("notifications/initialized"), kV1125));
    asio::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
          outcome = co_await client->send(long_running_call(2, 20, 20, "tok-c"), kV1125);
          inbox.push(json::object{{"test", "send-finished"}});
        },
        asio::bind_cancellation_slot(cancel.slot(), asio::detached));
    saw_progress = co_await inbox.wait_until(
        [&] { return !inbox.indexes_of("notifications/progress").empty(); }, 10s);
    const auto begin = Clock::now();
    cancel.emit(asio::cancellation_type::terminal);
    co_await inbox.wait_until([&] { return outcome.has_value(); }, 5s);
    cancel_took = Clock::now() - begin;
    co_await client->close();
  });
  EXPECT_TRUE(saw_progress);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(*outcome, asio::error::operation_aborted) << outcome->message();
  EXPECT_LT(cancel_took, 2s);
  EXPECT_FALSE(inbox.has_response(2));
}

TEST_F(EverythingStreamableTest, CloseCancelsInFlightSend) {
  Options options;
  options.url = url();
  auto client = make_client(options);
  std::optional<boost::system::error_code> outcome;
  Clock::duration close_took{};
  run([&]() -> awaitable<void> {
    EXPECT_FALSE(co_await client->send(initialize_request(1)));
    EXPECT_FALSE(co_await client->send(notification("notifications/initialized"), kV1125));
    asio::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
          outcome = co_await client->send(long_running_call(2, 20, 20, "tok-d"), kV1125);
          inbox.push(json::object{{"test", "send-finished"}});
        },
        asio::detached);
    EXPECT_TRUE(co_await inbox.wait_until(
        [&] { return !inbox.indexes_of("notifications/progress").empty(); }, 10s));
    const auto begin = Clock::now();
    co_await client->close();
    close_took = Clock::now() - begin;
    co_await inbox.wait_until([&] { return outcome.has_value(); }, 5s);
  });
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(*outcome, McpHttpErrc::closed) << outcome->message();
  EXPECT_LT(close_took, 4s);
  EXPECT_FALSE(client->session_id().has_value());
}

// ---------------------------------------------------------------------------------------------
// Against server-everything, legacy HTTP+SSE

class EverythingLegacyTest : public EverythingStreamableTest {
 protected:
  static void SetUpTestSuite() {
    auto install = find_server_everything(skip_reason_);
    if (!install) return;
    server_ = new NodeServer;
    start_error_ = server_->start(*install, "sse");
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  std::string sse_url() const {
    return "http://127.0.0.1:" + std::to_string(server_->port) + "/sse";
  }
};

TEST_F(EverythingLegacyTest, InitializeListCallWithProgress) {
  Options options;
  options.url = sse_url();
  options.transport = Options::Transport::legacy_sse;
  auto client = make_client(options);
  bool init_answered = false, list_answered = false, call_answered = false;
  run([&]() -> awaitable<void> {
    EXPECT_FALSE(co_await client->send(initialize_request(1, "2024-11-05")));
    init_answered = co_await inbox.wait_until([&] { return inbox.has_response(1); }, 10s);
    EXPECT_FALSE(co_await client->send(notification("notifications/initialized")));
    EXPECT_FALSE(co_await client->send(request(2, "tools/list")));
    list_answered = co_await inbox.wait_until([&] { return inbox.has_response(2); }, 10s);
    EXPECT_FALSE(co_await client->send(long_running_call(3, 1, 2, "tok-l")));
    call_answered = co_await inbox.wait_until([&] { return inbox.has_response(3); }, 15s);
    co_await client->close();
  });
  EXPECT_TRUE(init_answered);
  EXPECT_TRUE(list_answered);
  EXPECT_TRUE(call_answered);
  EXPECT_EQ(client->transport(), Options::Transport::legacy_sse);
  EXPECT_FALSE(client->session_id().has_value());  // legacy sessions live in the endpoint URL
  const auto progress = inbox.indexes_of("notifications/progress");
  ASSERT_EQ(progress.size(), 2u);
  EXPECT_LT(progress.back(), *inbox.index_of_response(3));
}

TEST_F(EverythingLegacyTest, AutoDetectFallsBackToLegacy) {
  Options options;
  options.url = sse_url();
  auto client = make_client(options);
  SendOutcome init;
  bool answered = false;
  run([&]() -> awaitable<void> {
    init = co_await client->send_detailed(initialize_request(1, "2024-11-05"));
    answered = co_await inbox.wait_until([&] { return inbox.has_response(1); }, 10s);
    co_await client->close();
  });
  EXPECT_FALSE(init.ec) << init.ec.message();
  EXPECT_EQ(init.http_status, 202u);
  EXPECT_TRUE(answered);
  EXPECT_EQ(client->transport(), Options::Transport::legacy_sse);
}

// ---------------------------------------------------------------------------------------------
// Against a scripted server

struct Recorded {
  std::string method;
  std::string target;
  bhttp::fields headers;
  std::string body;
  Clock::time_point at;
};

std::string sse_reply(const std::vector<std::string>& chunks, std::string extra_headers = {}) {
  std::string out = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n" + extra_headers +
                    "Transfer-Encoding: chunked\r\n\r\n";
  for (const auto& c : chunks) {
    std::ostringstream size;
    size << std::hex << c.size();
    out += size.str() + "\r\n" + c + "\r\n";
  }
  return out + "0\r\n\r\n";
}

std::string plain_reply(unsigned status, std::string_view type, std::string_view body,
                        std::string extra_headers = {}) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " + std::string(type) +
         "\r\n" + extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         std::string(body);
}

class ScriptedServer {
 public:
  // Returns the raw reply; an empty string stalls until the client hangs up.
  using Script = std::function<std::string(const Recorded&)>;

  ScriptedServer(asio::io_context& ioc, Script script)
      : ioc_(ioc),
        acceptor_(ioc, {asio::ip::make_address("127.0.0.1"), 0}),
        script_(std::move(script)) {
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
  }
  ~ScriptedServer() {
    boost::system::error_code ec;
    acceptor_.close(ec);
  }
  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) +
           std::string(path);
  }

  std::vector<Recorded> requests;

 private:
  awaitable<void> accept_loop() {
    while (true) {
      auto [ec, socket] = co_await acceptor_.async_accept(kTok);
      if (ec) co_return;
      asio::co_spawn(ioc_, session(std::move(socket)), asio::detached);
    }
  }
  awaitable<void> session(tcp::socket socket) {
    boost::beast::flat_buffer buffer;
    for (int i = 0; i < 100; ++i) {
      bhttp::request<bhttp::string_body> req;
      auto [ec, n] = co_await bhttp::async_read(socket, buffer, req, kTok);
      if (ec) co_return;
      requests.push_back({std::string(req.method_string()), std::string(req.target()), req.base(),
                          req.body(), Clock::now()});
      const auto reply = script_(requests.back());
      if (reply.empty()) {
        char byte;
        co_await socket.async_read_some(asio::buffer(&byte, 1), kTok);
        co_return;
      }
      auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(reply), kTok);
      if (wec) co_return;
    }
  }

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  Script script_;
};

using McpHttpClientScriptedTest = McpHttpClientTestBase;

TEST_F(McpHttpClientScriptedTest, SseReplyClosedEarlyIsResumedWithLastEventId) {
  const std::string progress =
      R"({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t","progress":1}})";
  const std::string response = R"({"jsonrpc":"2.0","id":7,"result":{"ok":true}})";
  ScriptedServer server(ioc, [&](const Recorded& r) -> std::string {
    if (r.method == "POST") {
      // Priming event (empty data, retry hint), one message, then the server closes the stream.
      return sse_reply({"id: ev-1\nretry: 80\ndata: \n\n",
                        "id: ev-2\nevent: message\ndata: " + progress + "\n\n"});
    }
    if (r.method == "GET" && r.headers["Last-Event-ID"] == "ev-2") {
      return sse_reply({"id: ev-3\nevent: message\ndata: " + response + "\n\n"});
    }
    return plain_reply(400, "text/plain", "unexpected");
  });
  Options options;
  options.url = server.url("/mcp");
  options.transport = Options::Transport::streamable;
  auto client = make_client(options);
  SendOutcome outcome;
  run([&]() -> awaitable<void> {
    auto headers = kV1125;
    headers.emplace_back("Mcp-Method", "tools/call");
    const auto call = request(7, "tools/call", {{"name", "x"}});
    outcome = co_await client->send_detailed(call, headers);
    co_await client->close();
  });
  EXPECT_FALSE(outcome.ec) << outcome.ec.message();
  ASSERT_EQ(inbox.messages.size(), 2u);
  EXPECT_EQ(inbox.messages[0].at("method"), "notifications/progress");
  EXPECT_TRUE(inbox.has_response(7));
  ASSERT_GE(server.requests.size(), 2u);
  const auto& get = server.requests[1];
  EXPECT_EQ(get.method, "GET");
  EXPECT_EQ(get.headers["Last-Event-ID"], "ev-2");
  EXPECT_EQ(get.headers["MCP-Protocol-Version"], "2025-11-25");
  EXPECT_EQ(get.headers.count("Mcp-Method"), 0u);  // describes the POST only
  EXPECT_NE(std::string(get.headers["Accept"]).find("text/event-stream"), std::string::npos);
  EXPECT_GE(get.at - server.requests[0].at, 70ms);  // retry: 80 was honoured
}

TEST_F(McpHttpClientScriptedTest, JsonRepliesSessionAndProtocolHeaders) {
  ScriptedServer server(ioc, [&](const Recorded& r) -> std::string {
    if (r.method == "DELETE") return plain_reply(200, "text/plain", "");
    const auto message = json::parse(r.body);
    if (!message.as_object().contains("id"))
      return "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";
    const auto id = message.at("id").as_int64();
    if (message.at("method") == "initialize") {
      return plain_reply(
          200, "application/json",
          R"({"jsonrpc":"2.0","id":)" + std::to_string(id) +
              R"(,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"s","version":"1"}}})",
          "Mcp-Session-Id: sess-123\r\n");
    }
    return plain_reply(200, "application/json; charset=utf-8",
                       R"([{"jsonrpc":"2.0","method":"notifications/message","params":{}},)"
                       R"({"jsonrpc":"2.0","id":)" +
                           std::to_string(id) + R"(,"result":{}}])");
  });
  Options options;
  options.url = server.url("/mcp");
  options.headers = {{"Authorization", "Bearer secret-token"}};
  auto client = make_client(options);
  SendOutcome init, note, list;
  run([&]() -> awaitable<void> {
    init = co_await client->send_detailed(initialize_request(1, "2025-06-18"));
    note = co_await client->send_detailed(notification("notifications/initialized"));
    list = co_await client->send_detailed(request(2, "tools/list"));
    co_await client->close();
  });
  EXPECT_FALSE(init.ec) << init.ec.message();
  EXPECT_FALSE(note.ec) << note.ec.message();
  EXPECT_EQ(note.http_status, 202u);
  EXPECT_FALSE(list.ec) << list.ec.message();
  ASSERT_EQ(server.requests.size(), 4u);
  // initialize: no session yet; everything later carries it and the negotiated version.
  EXPECT_EQ(server.requests[0].headers.count("Mcp-Session-Id"), 0u);
  EXPECT_EQ(server.requests[0].headers["Authorization"], "Bearer secret-token");
  EXPECT_EQ(server.requests[0].headers["Accept"], "application/json, text/event-stream");
  EXPECT_EQ(server.requests[0].headers["Content-Type"], "application/json");
  for (std::size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(server.requests[i].headers["Mcp-Session-Id"], "sess-123") << i;
    EXPECT_EQ(server.requests[i].headers["MCP-Protocol-Version"], "2025-06-18") << i;
    EXPECT_EQ(server.requests[i].headers["Authorization"], "Bearer secret-token") << i;
  }
  EXPECT_EQ(server.requests[3].method, "DELETE");
  EXPECT_TRUE(inbox.has_response(1));
  EXPECT_TRUE(inbox.has_response(2));
  EXPECT_EQ(inbox.indexes_of("notifications/message").size(), 1u);  // batch unpacked
}

TEST_F(McpHttpClientScriptedTest, ListenStreamReconnectsWithLastEventIdAndStopsOn405) {
  int gets = 0;
  ScriptedServer server(ioc, [&](const Recorded& r) -> std::string {
    if (r.method == "POST") {
      return plain_reply(200, "application/json", R"({"jsonrpc":"2.0","id":1,"result":{}})",
                         "Mcp-Session-Id: s-1\r\n");
    }
    if (r.method == "DELETE") return plain_reply(200, "text/plain", "");
    ++gets;
    inbox.push(json::object{{"test", "get"}});  // wakes the test coroutine
    if (gets == 1) {
      return sse_reply(
          {"retry: 30\nid: L1\ndata: "
           R"({"jsonrpc":"2.0","method":"notifications/message","params":{"n":1}})"
           "\n\n"});
    }
    if (gets == 2) {
      return sse_reply(
          {"id: L2\ndata: "
           R"({"jsonrpc":"2.0","method":"notifications/message","params":{"n":2}})"
           "\n\n"});
    }
    return plain_reply(405, "text/plain", "");  // no (more) standalone stream
  });
  Options options;
  options.url = server.url("/mcp");
  options.transport = Options::Transport::streamable;
  auto client = make_client(options);
  bool third_get = false;
  run([&]() -> awaitable<void> {
    EXPECT_FALSE(co_await client->send(initialize_request(1)));
    client->open_listen_stream();
    third_get = co_await inbox.wait_until([&] { return gets >= 3; }, 5s);
    // 405 ends the loop: nothing more may arrive (absence can only be checked over time).
    asio::steady_timer settle(ioc, 300ms);
    co_await settle.async_wait(kTok);
    co_await client->close();
  });
  EXPECT_TRUE(third_get);
  EXPECT_EQ(gets, 3);
  EXPECT_EQ(inbox.indexes_of("notifications/message").size(), 2u);
  std::vector<const Recorded*> get_requests;
  for (const auto& r : server.requests) {
    if (r.method == "GET") get_requests.push_back(&r);
  }
  ASSERT_EQ(get_requests.size(), 3u);
  EXPECT_EQ(get_requests[0]->headers.count("Last-Event-ID"), 0u);
  EXPECT_EQ(get_requests[1]->headers["Last-Event-ID"], "L1");
  EXPECT_EQ(get_requests[2]->headers["Last-Event-ID"], "L2");
  for (const auto* r : get_requests) {
    EXPECT_EQ(r->headers["Mcp-Session-Id"], "s-1");
    EXPECT_EQ(r->headers["Accept"], "text/event-stream");
  }
}

TEST_F(McpHttpClientScriptedTest, NotFoundWithSessionMeansSessionExpired) {
  ScriptedServer server(ioc, [&](const Recorded& r) -> std::string {
    const auto message = json::parse(r.body);
    if (message.at("method") == "initialize") {
      return plain_reply(200, "application/json", R"({"jsonrpc":"2.0","id":1,"result":{}})",
                         "Mcp-Session-Id: gone-soon\r\n");
    }
    return plain_reply(
        404, "application/json",
        R"({"jsonrpc":"2.0","error":{"code":-32001,"message":"Session not found"},"id":null})");
  });
  Options options;
  options.url = server.url("/mcp");
  options.transport = Options::Transport::streamable;
  auto client = make_client(options);
  SendOutcome list;
  run([&]() -> awaitable<void> {
    EXPECT_FALSE(co_await client->send(initialize_request(1)));
    list = co_await client->send_detailed(request(2, "tools/list"), kV1125);
  });
  EXPECT_EQ(list.ec, McpHttpErrc::session_expired) << list.ec.message();
  EXPECT_EQ(list.http_status, 404u);
  EXPECT_NE(list.error_body.find("Session not found"), std::string::npos);
  EXPECT_FALSE(client->session_id().has_value());
}

TEST_F(McpHttpClientScriptedTest, ErrorStatusCarriesBoundedBody) {
  ScriptedServer server(ioc, [&](const Recorded&) -> std::string {
    return plain_reply(503, "text/plain", "overloaded " + std::string(10000, '!'));
  });
  Options options;
  options.url = server.url("/mcp");
  options.transport = Options::Transport::streamable;
  auto client = make_client(options);
  SendOutcome outcome;
  run([&]() -> awaitable<void> {
    outcome = co_await client->send_detailed(initialize_request(1));
  });
  EXPECT_EQ(outcome.ec.category(), http_status_category());
  EXPECT_EQ(outcome.ec.value(), 503);
  EXPECT_EQ(outcome.http_status, 503u);
  EXPECT_EQ(outcome.error_body.substr(0, 10), "overloaded");
  EXPECT_EQ(outcome.error_body.size(), McpHttpClient::kMaxErrorBody);
  EXPECT_NE(outcome.ec.message().find("503"), std::string::npos);
}

TEST_F(McpHttpClientScriptedTest, RequestTimeoutBoundsAStalledReply) {
  ScriptedServer server(ioc, [&](const Recorded&) -> std::string { return {}; });
  Options options;
  options.url = server.url("/mcp");
  options.transport = Options::Transport::streamable;
  options.request_timeout = 300ms;
  auto client = make_client(options);
  boost::system::error_code ec;
  Clock::duration took{};
  run([&]() -> awaitable<void> {
    const auto begin = Clock::now();
    ec = co_await client->send(initialize_request(1));
    took = Clock::now() - begin;
  });
  EXPECT_EQ(ec, HttpClientErrc::timeout) << ec.message();
  EXPECT_LT(took, 3s);
}

TEST_F(McpHttpClientScriptedTest, InvalidSessionIdIsRejected) {
  ScriptedServer server(ioc, [&](const Recorded&) -> std::string {
    return plain_reply(200, "application/json", R"({"jsonrpc":"2.0","id":1,"result":{}})",
                       "Mcp-Session-Id: has space\r\n");
  });
  Options options;
  options.url = server.url("/mcp");
  auto client = make_client(options);
  boost::system::error_code ec;
  run([&]() -> awaitable<void> { ec = co_await client->send(initialize_request(1)); });
  EXPECT_EQ(ec, McpHttpErrc::invalid_session_id);
  EXPECT_FALSE(client->session_id().has_value());
}

TEST_F(McpHttpClientScriptedTest, LegacyEndpointOnAnotherOriginIsRefused) {
  ScriptedServer server(ioc, [&](const Recorded& r) -> std::string {
    if (r.method == "GET") {
      return sse_reply({"event: endpoint\ndata: http://203.0.113.9:8080/message?s=1\n\n"});
    }
    return plain_reply(500, "text/plain", "must not be reached");
  });
  Options options;
  options.url = server.url("/sse");
  options.transport = Options::Transport::legacy_sse;
  auto client = make_client(options);
  boost::system::error_code ec;
  run([&]() -> awaitable<void> { ec = co_await client->send(initialize_request(1)); });
  EXPECT_EQ(ec, McpHttpErrc::endpoint_origin_mismatch) << ec.message();
  for (const auto& r : server.requests) EXPECT_EQ(r.method, "GET");
}

TEST_F(McpHttpClientScriptedTest, SseMessageBeyondLimitFails) {
  ScriptedServer server(ioc, [&](const Recorded&) -> std::string {
    return sse_reply({"event: message\ndata: " + std::string(4096, 'x') + "\n\n"});
  });
  Options options;
  options.url = server.url("/mcp");
  options.transport = Options::Transport::streamable;
  options.max_message_bytes = 1024;
  auto client = make_client(options);
  boost::system::error_code ec;
  run([&]() -> awaitable<void> { ec = co_await client->send(initialize_request(1)); });
  EXPECT_EQ(ec, McpHttpErrc::message_too_large) << ec.message();
  EXPECT_TRUE(inbox.messages.empty());
}

TEST_F(McpHttpClientScriptedTest, UnreadableCaFileFailsEverySend) {
  Options options;
  options.url = "https://127.0.0.1:1/mcp";
  options.ca_file = "/nonexistent/ca.pem";
  auto client = make_client(options);
  boost::system::error_code ec;
  run([&]() -> awaitable<void> {
    ec = co_await client->send(initialize_request(1));
    co_await client->close();
  });
  EXPECT_EQ(ec, HttpClientErrc::tls_setup_failed) << ec.message();
}

}  // namespace
}  // namespace bastion::upstream::http
