#pragma once
// HTTP/1.1 server: one coroutine per connection on its own strand, keep-alive, a timeout on
// every read and write, header/body limits, and detection of clients that go away while their
// request is being handled (the handler is cancelled, which cancels the upstream call).
// Optionally TLS (1.2/1.3, see net/tls): the handshake runs under the header timeout, then the
// same loop serves the decrypted stream.
#include <atomic>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace bastion::net {

namespace tls {
class TlsContextProvider;
}

namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

struct ConnectionInfo {
  std::string listener;      // "public", "admin"
  tcp::endpoint remote;
  tcp::endpoint local;
  bool tls = false;
};

// What a handler uses to answer: one complete response, or a chunked stream (SSE).
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  virtual boost::asio::awaitable<bool> send(Response response) = 0;
  virtual boost::asio::awaitable<bool> start_stream(http::response<http::empty_body> header) = 0;
  virtual boost::asio::awaitable<bool> write_chunk(std::string_view data) = 0;
  virtual boost::asio::awaitable<bool> finish_stream() = 0;
  virtual bool streaming() const = 0;
};

using Handler = std::function<boost::asio::awaitable<void>(Request&, ResponseWriter&, const ConnectionInfo&)>;
// Told about every request the server answers itself, before any handler: status and a stable
// reason ("http_bad_content_length", "http_timeout", "too_many_connections", ...).
using RefusalObserver = std::function<void(unsigned status, std::string_view reason)>;

struct ServerLimits {
  std::uint64_t max_header_bytes = 16 << 10;
  std::uint64_t max_body_bytes = 4 << 20;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds write_timeout{30'000};
  std::uint32_t max_connections = 10'000;
  // Bound on sending close_notify and waiting for the peer's when a TLS connection ends.
  std::chrono::milliseconds tls_shutdown_timeout{1'000};
};

class HttpServer : public std::enable_shared_from_this<HttpServer> {
 public:
  HttpServer(boost::asio::io_context& ioc, std::string name, ServerLimits limits, Handler handler);
  // A TLS listener: every connection handshakes with the provider's current context.
  HttpServer(boost::asio::io_context& ioc, std::string name, ServerLimits limits, Handler handler,
             std::shared_ptr<tls::TlsContextProvider> tls);
  // Turns TLS on (or off with nullptr); call before start().
  void set_tls(std::shared_ptr<tls::TlsContextProvider> provider) { tls_ = std::move(provider); }
  bool tls_enabled() const { return tls_ != nullptr; }
  // Call before start().
  void set_refusal_observer(RefusalObserver observer) { on_refused_ = std::move(observer); }
  // Binds and listens now (before privileges are dropped); returns the bound endpoint.
  boost::system::result<tcp::endpoint> bind(const std::string& address);
  void start();
  // Stops accepting; connections finish their current request, then close. After `grace`,
  // everything still open is cancelled.
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds grace);
  std::size_t connections() const { return connections_.load(); }
  const std::string& name() const { return name_; }

 private:
  boost::asio::awaitable<void> accept_loop();
  // `cancel` is the signal the connection's coroutine was spawned with: emitting it cancels
  // whatever the connection awaits (its handler, when the client goes away).
  boost::asio::awaitable<void> serve(tcp::socket socket, boost::asio::cancellation_signal* cancel);
  boost::asio::awaitable<void> serve_plain(tcp::socket socket, ConnectionInfo info,
                                           boost::asio::cancellation_signal* cancel);
  boost::asio::awaitable<void> serve_tls(tcp::socket socket, ConnectionInfo info,
                                         boost::asio::cancellation_signal* cancel);

  boost::asio::io_context& ioc_;
  std::string name_;
  ServerLimits limits_;
  Handler handler_;
  std::shared_ptr<tls::TlsContextProvider> tls_;
  RefusalObserver on_refused_;
  tcp::acceptor acceptor_;
  std::atomic<std::size_t> connections_{0};
  std::atomic<bool> stopping_{false};
  struct Registry;
  std::shared_ptr<Registry> registry_;
};

// The request parser's header and body limits, as every connection sets them.
void apply_limits(http::request_parser<http::string_body>& parser, const ServerLimits& limits);

// A plain-text error reply with the given status (used for transport-level failures).
Response text_response(http::status status, std::string_view body, unsigned version = 11);

}  // namespace bastion::net
