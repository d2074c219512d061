// MCP client transport towards a remote server: Streamable HTTP (2025-03-26 … 2025-11-25) and the
// legacy HTTP+SSE transport (2024-11-05), with auto-detection between them.
//
// Threading: the client runs everything on its own strand (made from the executor it is given);
// send(), close() and open_listen_stream() may be called from any coroutine or thread. The
// MessageHandler is invoked on that strand, must not block and should not throw.
// Lifetime: create with std::make_shared; background streams hold a reference until close().
// Secrets: header values (Options::headers, extra headers) are never logged.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "net/client/http_client.hpp"
#include "net/client/sse_parser.hpp"
#include "net/io_strand.hpp"

namespace bastion::upstream::http {

struct Options {
  std::string url;  // e.g. http://127.0.0.1:3001/mcp (legacy: the SSE URL, e.g. …/sse)
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers: secrets, never logged
  std::chrono::milliseconds connect_timeout{5000}, request_timeout{30000};
  // Extra trusted CAs for this upstream. When it differs from the given pool's, the client makes
  // its own pool with the same limits plus this CA; if the file cannot be loaded every send()
  // fails with net::client::HttpClientErrc::tls_setup_failed.
  std::optional<std::string> ca_file;
  std::size_t max_message_bytes = 16 << 20;
  enum class Transport { streamable, legacy_sse, auto_detect } transport = Transport::auto_detect;
  // A long-lived SSE stream (listen stream, legacy stream) that delivers no byte, not even a
  // keep-alive comment, for this long is considered dead.
  std::chrono::milliseconds stream_idle_timeout{300'000};
  // Upper bound of the listen stream's reconnection backoff.
  std::chrono::milliseconds max_reconnect_delay{30'000};
};

using MessageHandler = std::function<void(boost::json::value message)>;

enum class McpHttpErrc {
  session_expired = 1,       // 404 for our Mcp-Session-Id (or the legacy stream is gone)
  no_response,               // the SSE reply ended without the response and cannot be resumed
  invalid_message,           // the server sent something that is not JSON
  unexpected_content_type,   // neither application/json nor text/event-stream
  message_too_large,         // outgoing or incoming message beyond max_message_bytes
  closed,                    // close() was called
  no_endpoint,               // legacy: the SSE stream ended before its `endpoint` event
  endpoint_origin_mismatch,  // legacy: the endpoint points to another origin
  invalid_session_id,        // Mcp-Session-Id with characters outside visible ASCII
};

const boost::system::error_category& mcp_http_category() noexcept;
boost::system::error_code make_error_code(McpHttpErrc e) noexcept;

// Non-2xx replies are errors in this category; the value is the HTTP status code.
const boost::system::error_category& http_status_category() noexcept;
boost::system::error_code make_http_status_error(unsigned status) noexcept;

// What send_detailed() reports: the error plus, for HTTP failures, the status and a bounded
// prefix of the reply body (to pass the upstream's explanation on).
struct SendOutcome {
  boost::system::error_code ec;
  unsigned http_status = 0;
  std::string error_body;
};

class McpHttpClient : public std::enable_shared_from_this<McpHttpClient> {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;
  static constexpr std::size_t kMaxErrorBody = 4096;

  McpHttpClient(boost::asio::any_io_executor executor,
                std::shared_ptr<net::client::HttpClientPool> pool, Options options,
                MessageHandler handler);

  // POSTs one JSON-RPC message (request, notification or response) with
  // Accept: application/json, text/event-stream; Content-Type: application/json; plus
  // `extra_headers` (MCP-Protocol-Version, Mcp-Method, Mcp-Name …). Every message the server
  // sends back — JSON body or SSE events, in any order — goes to the MessageHandler. Completes
  // when the reply is over: 202 for notifications/responses; for a request when the JSON body or
  // the SSE stream has ended (an SSE reply that closes before the response is resumed with
  // GET + Last-Event-ID, honouring `retry`, until the response arrives or request_timeout hits).
  // Captures Mcp-Session-Id from the initialize reply and sends it afterwards; 404 with a
  // session → session_expired (and the session is forgotten). Non-2xx → http_status_category().
  // Cancellation: the awaiting coroutine's cancellation slot (terminal cancellation).
  boost::asio::awaitable<boost::system::error_code> send(boost::json::value message,
                                                         Headers extra_headers = {});
  // send() that also returns the HTTP status and bounded body of a failed reply.
  boost::asio::awaitable<SendOutcome> send_detailed(boost::json::value message,
                                                    Headers extra_headers = {});

  // Opens the standalone GET SSE stream when the server offers one (405 = not offered, fine),
  // delivering to the MessageHandler, reconnecting with Last-Event-ID with backoff until close().
  // Call it after initialize (the stream belongs to the session). No-op in legacy mode.
  void open_listen_stream();

  std::optional<std::string> session_id() const;
  // The transport in use; auto_detect until the first send() has decided.
  Options::Transport transport() const;

  // DELETEs the session if one exists, stops the listen stream, cancels everything in flight.
  boost::asio::awaitable<void> close();

 private:
  struct MessageInfo;
  using Strand = net::IoStrand;
  using Clock = std::chrono::steady_clock;
  using StopTimer = std::shared_ptr<boost::asio::steady_timer>;

  static MessageInfo classify(const boost::json::value& message);

  boost::asio::awaitable<SendOutcome> send_on_strand(std::shared_ptr<McpHttpClient> self,
                                                     boost::json::value message, Headers extra);
  boost::asio::awaitable<SendOutcome> do_send(boost::json::value message, Headers extra);
  boost::asio::awaitable<SendOutcome> streamable_send(const MessageInfo& info, std::string body,
                                                      const Headers& extra,
                                                      Clock::time_point deadline);
  boost::asio::awaitable<SendOutcome> consume_sse(net::client::HttpResponse response,
                                                  const MessageInfo& info, const Headers& extra,
                                                  Clock::time_point deadline);
  boost::asio::awaitable<SendOutcome> legacy_send(const MessageInfo& info, std::string body,
                                                  const Headers& extra, Clock::time_point deadline);
  boost::asio::awaitable<SendOutcome> legacy_connect(Clock::time_point deadline);
  boost::asio::awaitable<void> legacy_reader(std::shared_ptr<McpHttpClient> self,
                                             net::client::HttpResponse response,
                                             net::client::SseParser parser);
  boost::asio::awaitable<void> listen_task(std::shared_ptr<McpHttpClient> self);
  boost::asio::awaitable<boost::system::error_code> listen_loop();
  boost::asio::awaitable<void> close_on_strand(std::shared_ptr<McpHttpClient> self);

  // Runs `op` until it finishes, or close() or our caller's cancellation stops it (then std::nullopt).
  template <class T>
  boost::asio::awaitable<std::optional<T>> stoppable(boost::asio::awaitable<T> op);
  void background_started() { ++background_; }
  void background_finished();

  Headers request_headers(const Headers& extra, bool with_session) const;
  void remember_protocol_version(const Headers& extra);
  // Parses one message (object or batch) and hands it to the handler; returns false if not JSON.
  bool deliver(std::string_view json_text, const MessageInfo* info, std::vector<bool>* answered);
  void set_session(std::optional<std::string> id);

  Strand strand_;
  std::shared_ptr<net::client::HttpClientPool> pool_;
  boost::system::error_code setup_error_;  // a failed dedicated pool (bad ca_file)
  Options options_;
  MessageHandler handler_;

  mutable std::mutex mutex_;  // guards the fields read by the const accessors
  std::optional<std::string> session_id_;
  Options::Transport mode_;

  // Strand-only state.
  std::optional<std::string> protocol_version_;
  std::optional<std::string> legacy_endpoint_;
  bool legacy_alive_ = false;
  bool closed_ = false;
  bool listen_started_ = false;
  std::uint64_t next_stop_id_ = 0;
  std::unordered_map<std::uint64_t, boost::asio::cancellation_signal*> stops_;  // operations close() stops
  int background_ = 0;
  StopTimer background_idle_;
};

}  // namespace bastion::upstream::http

template <>
struct boost::system::is_error_code_enum<bastion::upstream::http::McpHttpErrc> : std::true_type {};
