#include "echo_server/echo_server.hpp"

#include <sched.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <exception>
#include <thread>

namespace bastion::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::optional<std::string_view> header(const http::request<http::string_body>& req, std::string_view name) {
  auto it = req.find(name);
  if (it == req.end()) return std::nullopt;
  return std::string_view(it->value().data(), it->value().size());
}

Verb verb_of(http::verb v) {
  switch (v) {
    case http::verb::post: return Verb::post;
    case http::verb::get: return Verb::get;
    case http::verb::delete_: return Verb::del;
    default: return Verb::other;
  }
}

http::response<http::string_body> to_response(Reply reply, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(reply.status), version};
  if (!reply.body.empty()) {
    res.set(http::field::content_type, "application/json");
    res.body() = std::move(reply.body);
  }
  if (!reply.session_id.empty()) res.set("Mcp-Session-Id", reply.session_id);
  if (!reply.allow.empty()) res.set(http::field::allow, reply.allow);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

// Counts a connection for as long as it lives.
struct ConnectionSlot {
  explicit ConnectionSlot(std::atomic<std::size_t>& c) : count(c) { ++count; }
  ~ConnectionSlot() { --count; }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  std::atomic<std::size_t>& count;
};

asio::awaitable<void> serve(std::shared_ptr<EchoServer::Shared> shared, tcp::socket socket) {
  ConnectionSlot slot(shared->connections);
  const auto& opt = shared->options;
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer(8192);
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(opt.max_header_bytes);
    parser.body_limit(opt.max_body_bytes);
    stream.expires_after(opt.idle_timeout);
    auto [ec, read] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (ec == http::error::body_limit) {
      stream.expires_after(opt.write_timeout);
      auto res = to_response(Reply{413, {}, {}, {}}, 11, false);
      co_await http::async_write(stream, res, use_tuple);
      break;
    }
    if (ec) break;  // peer closed, timed out or sent garbage: nothing useful to answer
    ++shared->requests;
    auto& req = parser.get();
    RequestView view;
    view.verb = verb_of(req.method());
    view.target = std::string_view(req.target().data(), req.target().size());
    view.content_type = header(req, "Content-Type");
    view.protocol_version = header(req, "MCP-Protocol-Version");
    view.mcp_method = header(req, "Mcp-Method");
    view.session_id = header(req, "Mcp-Session-Id");
    view.authorization = header(req, "Authorization");
    view.body = req.body();
    auto res = to_response(shared->service.handle(view), req.version(), req.keep_alive());
    stream.expires_after(opt.write_timeout);
    auto [wec, written] = co_await http::async_write(stream, res, use_tuple);
    if (wec || !res.keep_alive()) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

void log_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "bastion-bench-echo: connection failed: %s\n", ex.what());
  }
}

}  // namespace

unsigned available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<unsigned>(n);
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

struct EchoServer::Worker {
  asio::io_context ioc{1};  // one thread per context: no locking inside Asio
  tcp::acceptor acceptor{ioc};

  asio::awaitable<void> accept_loop(std::shared_ptr<Shared> shared) {
    asio::steady_timer backoff(ioc);
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec == asio::error::operation_aborted) co_return;
      if (ec) {  // e.g. EMFILE: give the process a moment instead of spinning
        backoff.expires_after(std::chrono::milliseconds(50));
        co_await backoff.async_wait(use_tuple);
        continue;
      }
      if (shared->connections.load() >= shared->options.max_connections) continue;  // closes it
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      asio::co_spawn(ioc, serve(shared, std::move(socket)), log_exception);
    }
  }
};

EchoServer::EchoServer(ServerOptions options, EchoOptions echo)
    : shared_(std::make_shared<Shared>(std::move(options), std::move(echo))) {
  unsigned n = shared_->options.threads ? shared_->options.threads : available_cpus();
  for (unsigned i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>());
}

EchoServer::~EchoServer() { stop(); }

std::size_t EchoServer::connections() const { return shared_->connections.load(); }
std::uint64_t EchoServer::requests() const { return shared_->requests.load(); }

boost::system::result<std::uint16_t> EchoServer::bind() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(shared_->options.address, ec);
  if (ec) return ec;
  std::uint16_t port = shared_->options.port;
  for (auto& w : workers_) {
    tcp::endpoint ep(address, port);
    w->acceptor.open(ep.protocol(), ec);
    if (!ec) w->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) w->acceptor.set_option(reuse_port(true), ec);
    if (!ec) w->acceptor.bind(ep, ec);
    if (!ec) w->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return ec;
    port = w->acceptor.local_endpoint().port();  // the first bind picks the ephemeral port
  }
  return port;
}

void EchoServer::run() {
  for (auto& w : workers_) {
    asio::co_spawn(w->ioc, w->accept_loop(shared_), log_exception);
  }
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < workers_.size(); ++i) {
    threads.emplace_back([w = workers_[i].get()] { w->ioc.run(); });
  }
  workers_.front()->ioc.run();
  for (auto& t : threads) t.join();
}

void EchoServer::stop() {
  for (auto& w : workers_) w->ioc.stop();
}

}  // namespace bastion::bench
