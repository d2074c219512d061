#pragma once
// The Streamable HTTP endpoint, both eras on one URL:
//  - 2025 era (2025-03-26, 2025-06-18, 2025-11-25): initialize mints an Mcp-Session-Id; POST is
//    answered with JSON or SSE (priming event, event ids, retry, Last-Event-ID resumption on GET);
//    GET opens the session's standalone stream; DELETE ends the session.
//  - 2026-07-28 era: stateless requests carrying _meta; header checks in the spec's order; SSE
//    response streams that cancel the upstream call when closed; subscriptions/listen.
// Requests are classified per request: _meta protocolVersion (or a non-legacy version header)
// means 2026; anything else is the 2025 handshake world.
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "core/config.hpp"
#include "mcp/server/router.hpp"
#include "mcp/session_id.hpp"
#include "net/server/http_server.hpp"

namespace bastion::mcp {

struct EndpointCounters {
  std::atomic<std::uint64_t> requests{0}, sessions_created{0}, sessions_expired{0},
      sessions_deleted{0}, rejected{0}, sse_streams{0};
};

class StreamableHttpEndpoint : public std::enable_shared_from_this<StreamableHttpEndpoint> {
 public:
  StreamableHttpEndpoint(const core::Config& config, std::shared_ptr<Router> router);

  // Serves one HTTP request for `route` ("" = federated /mcp, else /mcp/<upstream>).
  // `caller` is who the guards authenticated (nullptr = anonymous); sessions stay bound to the
  // caller that created them.
  boost::asio::awaitable<void> handle(net::Request& request, net::ResponseWriter& writer,
                                      const std::string& route,
                                      std::shared_ptr<const RequestCaller> caller = nullptr);
  // Drops sessions idle for longer than the configured timeout; run periodically.
  boost::asio::awaitable<void> expire_idle_sessions();
  boost::asio::awaitable<void> close_all_sessions();
  std::size_t session_count() const;
  // Configuration reloads swap the router; requests in progress keep the one they started with.
  std::shared_ptr<Router> current_router() const;
  void replace_router(std::shared_ptr<Router> router);
  const EndpointCounters& counters() const { return counters_; }

 private:
  boost::asio::awaitable<void> handle_post(net::Request& request, net::ResponseWriter& writer,
                                           const std::string& route, std::shared_ptr<const RequestCaller> caller);
  boost::asio::awaitable<void> handle_stateless(net::Request& request, net::ResponseWriter& writer,
                                                const std::string& route, Message message,
                                                std::shared_ptr<const RequestCaller> caller);
  boost::asio::awaitable<void> handle_get(net::Request& request, net::ResponseWriter& writer,
                                          const std::string& route, const RequestCaller& caller);
  boost::asio::awaitable<void> handle_delete(net::Request& request, net::ResponseWriter& writer,
                                             const std::string& route, const RequestCaller& caller);
  boost::asio::awaitable<void> subscriptions_listen(net::Request& request, net::ResponseWriter& writer,
                                                    const std::string& route, Message message);
  // Writes a request's event stream as JSON (when it holds just the response) or SSE.
  boost::asio::awaitable<void> reply_from_stream(net::Request& request, net::ResponseWriter& writer,
                                                 std::shared_ptr<ClientSession> session,
                                                 std::shared_ptr<EventStream> stream,
                                                 std::uint64_t after, bool allow_json);
  std::shared_ptr<ClientSession> find_session(std::string_view id, const std::string& route,
                                              const RequestCaller& caller) const;

  core::Config config_;
  std::shared_ptr<Router> router_;
  SessionIdCodec ids_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<ClientSession>> sessions_;
  EndpointCounters counters_;
};

}  // namespace bastion::mcp
