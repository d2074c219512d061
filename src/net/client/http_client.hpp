// HTTP/1.1 client with per-origin keep-alive pooling, TLS (verified), timeouts on every
// operation, size limits and a streamed response body.
//
// Cancellation: every operation honours the cancellation slot of the awaiting coroutine
// (terminal cancellation, e.g. a cancellation_signal bound with bind_cancellation_slot, or a
// parallel group such as awaitable_operators' `||`). A cancelled request returns
// boost::asio::error::operation_aborted and its connection is closed, never reused. Cancellation
// is checked before every internal co_await, so the pool never throws on cancellation even when
// the caller keeps Asio's default throw_if_cancelled(true).
//
// Threading: the pool may be shared by coroutines on any thread of one io_context; one
// HttpResponse is used by one coroutine at a time. Each coroutine that awaits the pool must run on
// a strand (or a single-threaded io_context): Beast completes a stream's timeout handlers through
// the awaiting coroutine's executor. Header values are never logged or put into error messages
// (they carry credentials).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace bastion::net::client {

enum class HttpClientErrc {
  invalid_url = 1,     // not an absolute http(s) URL (or it carries user:password@)
  invalid_header,      // a header name or value with CR, LF or NUL (request smuggling)
  unsupported_scheme,  // anything but http and https
  resolve_timeout,     // name resolution did not finish in time
  connect_timeout,     // TCP connect or TLS handshake did not finish in time
  timeout,             // a write or read did not finish in time
  header_too_large,    // response header beyond max_header_bytes
  body_too_large,      // response body beyond the request's limit
  connection_closed,   // peer closed before the response was complete
  protocol_error,      // malformed HTTP from the peer
  tls_setup_failed,    // could not load the CA file / configure the TLS context
};

const boost::system::error_category& http_client_category() noexcept;
boost::system::error_code make_error_code(HttpClientErrc e) noexcept;

struct PoolOptions {
  std::size_t max_idle_per_origin = 8;               // idle keep-alive connections kept per origin
  std::size_t max_idle_total = 256;                  // across all origins
  std::chrono::milliseconds idle_timeout{30'000};    // an idle connection older than this is closed
  std::chrono::milliseconds connect_timeout{5'000};  // resolve + TCP connect + TLS handshake
  std::chrono::milliseconds io_timeout{30'000};      // each write, and each read of header or body
  std::size_t max_header_bytes = 64 * 1024;
  std::size_t max_body_bytes = 16u << 20;  // default when a request sets no limit
  std::optional<std::string> ca_file;      // extra trusted CAs (PEM), on top of system CAs
  std::string user_agent = "bastion";
};

struct HttpRequest {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string url;  // absolute http:// or https:// URL
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<std::chrono::milliseconds> connect_timeout;  // default: PoolOptions
  std::optional<std::chrono::milliseconds> io_timeout;       // default: PoolOptions
  // Absolute bound for the whole exchange, including reading the streamed body.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  // Body limit; std::nullopt = PoolOptions::max_body_bytes. SIZE_MAX for unbounded streams
  // (e.g. SSE, where the caller bounds each event instead).
  std::optional<std::size_t> max_body_bytes;
};

class HttpClientPool;
struct PooledConnection;

// A response whose header has arrived; the body is read on demand. The connection goes back to
// the pool once the body was read to its end and both sides allow keep-alive; destroying the
// response earlier closes the connection.
class HttpResponse {
 public:
  HttpResponse(HttpResponse&&) noexcept;
  HttpResponse& operator=(HttpResponse&&) noexcept;
  ~HttpResponse();

  unsigned status() const;
  const boost::beast::http::fields& headers() const;
  // The value of a header field (case-insensitive name), or std::nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
  // Media type of Content-Type, lower-cased, without parameters ("text/event-stream").
  std::string content_type() const;
  bool body_done() const;

  // The next piece of body as it arrives (at most `max_chunk` bytes). An empty string means the
  // body is complete. Each call is bounded by io_timeout and the request deadline.
  boost::asio::awaitable<boost::system::result<std::string>> read_some(
      std::size_t max_chunk = 64 * 1024);
  // The rest of the body, failing with body_too_large beyond `limit` bytes.
  boost::asio::awaitable<boost::system::result<std::string>> read_body(std::size_t limit);

  // Changes the per-read timeout for the rest of the body (e.g. an idle timeout for SSE).
  void set_io_timeout(std::chrono::milliseconds timeout);
  void set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline);

 private:
  friend class HttpClientPool;
  struct Impl;
  explicit HttpResponse(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct BufferedResponse {
  unsigned status = 0;
  boost::beast::http::fields headers;
  std::string body;
};

struct PoolStats {
  std::uint64_t connections_opened = 0;  // new TCP (+TLS) connections
  std::uint64_t connections_reused = 0;  // requests served on a pooled connection
  std::size_t idle = 0;                  // idle connections held right now
};

class HttpClientPool : public std::enable_shared_from_this<HttpClientPool> {
 public:
  // Fails with tls_setup_failed when the CA file cannot be loaded. Without a CA file the TLS
  // context is built on the first https request (a failure then fails that request).
  static boost::system::result<std::shared_ptr<HttpClientPool>> create(
      boost::asio::any_io_executor executor, PoolOptions options = {});

  HttpClientPool(const HttpClientPool&) = delete;
  HttpClientPool& operator=(const HttpClientPool&) = delete;
  ~HttpClientPool();

  // Sends the request and returns once the response header has arrived. A request that fails
  // on a reused connection before any response byte arrived is retried once on a new connection
  // (the peer closed the idle connection under us).
  boost::asio::awaitable<boost::system::result<HttpResponse>> request(HttpRequest request);
  // request() + read_body(): the whole body, bounded by the request's body limit.
  boost::asio::awaitable<boost::system::result<BufferedResponse>> fetch(HttpRequest request);

  PoolStats stats() const;
  // Closes every idle connection.
  void close_idle();

  const PoolOptions& options() const noexcept { return options_; }
  boost::asio::any_io_executor get_executor() const noexcept { return executor_; }

 private:
  friend class HttpResponse;
  HttpClientPool(boost::asio::any_io_executor executor, PoolOptions options);

  std::unique_ptr<PooledConnection> take_idle(const std::string& origin);
  void give_back(std::unique_ptr<PooledConnection> connection);
  void prune_locked(std::chrono::steady_clock::time_point now);
  boost::system::result<boost::asio::ssl::context*> tls_context();

  boost::asio::any_io_executor executor_;
  PoolOptions options_;
  std::mutex tls_mutex_;
  std::unique_ptr<boost::asio::ssl::context> tls_;  // built once, on first use; then never replaced
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<PooledConnection>>> idle_;
  std::size_t idle_count_ = 0;
  std::uint64_t opened_ = 0;
  std::uint64_t reused_ = 0;
};

}  // namespace bastion::net::client

template <>
struct boost::system::is_error_code_enum<bastion::net::client::HttpClientErrc> : std::true_type {};
