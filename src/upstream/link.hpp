#pragma once
// A Link is one MCP conversation with an upstream: a stdio process or a Streamable-HTTP session.
// It owns request-id remapping (many clients share one upstream connection), progress-token
// remapping, and attribution of what the upstream sends to the call it belongs to.
// Transports derive from it and implement transmit(); they feed everything received to
// deliver(). Thread-safe: calls come from client connections, messages from the transport.
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/json.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace bastion::upstream {

namespace json = boost::json;

// Everything the upstream sends that belongs to one call: notifications, server->client requests,
// and finally the response (whose id is the Link's, not the client's).
using Inbox = boost::asio::experimental::concurrent_channel<void(boost::system::error_code, json::object)>;

struct Call {
  explicit Call(boost::asio::any_io_executor ex) : inbox(ex, 512) {}
  Inbox inbox;
  std::int64_t upstream_id = 0;
  json::value client_id;                       // restored on the response by the caller
  std::optional<json::value> client_progress_token;
  const void* owner = nullptr;                 // the client session that started it
  std::string method;
  bool timed_out = false;                      // set by the caller's deadline (its executor only)
};

// Extra HTTP headers forwarded with one message (HTTP links only), e.g. unknown Mcp-Param-*.
using ForwardHeaders = std::vector<std::pair<std::string, std::string>>;

// How a Link reports messages that belong to no call in flight (or must reach every client).
struct LinkEvents {
  std::function<void(json::object notification)> on_notification;
  std::function<void(json::object request)> on_request;  // server->client request
  std::function<void(const std::string& reason)> on_closed;
};

class Link : public std::enable_shared_from_this<Link> {
 public:
  Link(boost::asio::any_io_executor ex, std::string upstream_name);
  virtual ~Link() = default;
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  void set_events(LinkEvents events);
  // Sends a request upstream under a fresh id. Returns nullptr when the link is down.
  std::shared_ptr<Call> start_call(json::object request, const void* owner,
                                   const ForwardHeaders& headers = {});
  // The caller is done with a call (response received, timed out or abandoned).
  void finish_call(const std::shared_ptr<Call>& call);
  // Abandons a call and tells the upstream with notifications/cancelled.
  void cancel_call(const std::shared_ptr<Call>& call, std::string_view reason);
  bool notify(const json::object& notification);
  bool respond(const json::object& response);  // answer to a server->client request

  bool up() const { return up_.load(); }
  const std::string& upstream_name() const { return name_; }
  std::size_t in_flight() const;
  // Result of the initialize handshake (or of server/discover for stateless upstreams).
  std::optional<json::object> server_info() const;
  void set_server_info(json::object info);
  // The server/discover result when the upstream also speaks the stateless 2026-07-28 era.
  std::optional<json::object> discover_result() const;
  bool has_discover_result() const;
  // protocolVersion from the initialize result, without copying the whole result (per call).
  std::optional<std::string> negotiated_version() const;
  void set_discover_result(json::object result);
  // The upstream has no initialize (2026-07-28 only): every request must carry the stateless
  // _meta; start_call adds Bastion's own when the caller did not.
  bool stateless_only() const { return stateless_only_.load(); }
  void set_stateless_only(bool on) { stateless_only_ = on; }
  boost::asio::any_io_executor executor() const { return ex_; }

 protected:
  // Takes the message by value: the HTTP transport sends it later, from its own coroutine.
  virtual bool transmit(json::object message, const ForwardHeaders& headers = {}) = 0;
  // Transport entry point for every message received from the upstream.
  void deliver(json::object message);
  // The transport died: fail every call in flight with a JSON-RPC error and report closure.
  void mark_down(const std::string& reason);
  void mark_up() { up_ = true; }

 private:
  void route_to(const std::shared_ptr<Call>& call, json::object message);

  boost::asio::any_io_executor ex_;
  std::string name_;
  std::atomic<bool> up_{false};
  std::atomic<bool> stateless_only_{false};
  mutable std::mutex mutex_;
  std::int64_t next_id_ = 1;
  std::map<std::int64_t, std::shared_ptr<Call>> calls_;
  std::map<std::string, std::int64_t> progress_tokens_;  // link token -> call id
  LinkEvents events_;
  std::optional<json::object> server_info_;
  std::optional<json::object> discover_;
};

// Adds the 2026-07-28 per-request _meta (unless the request already has a protocol version).
void add_stateless_meta(json::object& request, const json::object& capabilities,
                        const json::object& client_info);

// A request object for Bastion's own calls (the Link assigns the id). A plain function, also
// because GCC 12 mis-compiles brace-initialised JSON inside co_await expressions.
json::object make_request(std::string_view method, json::object params);

// The JSON-RPC error a caller receives when the link fails under a call.
json::object link_failure_response(std::int64_t upstream_id, const std::string& reason);

}  // namespace bastion::upstream
