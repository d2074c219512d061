#pragma once
// The MCP router: given a client session and one JSON-RPC message, decides what Bastion answers
// itself (initialize on shared or federated sessions, ping, federated lists, server/discover) and
// what goes to which upstream link, relays everything the upstream sends back onto the request's
// event stream, and restores ids and names on the way back.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <memory>

#include "core/config.hpp"
#include "mcp/jsonrpc.hpp"
#include "mcp/server/event_stream.hpp"
#include "mcp/server/federation.hpp"
#include "mcp/server/session.hpp"
#include "upstream/upstream.hpp"

namespace bastion::mcp {

// Who sent a request, as the guards established it (authentication happens before the MCP layer).
struct RequestCaller {
  std::string name = "anonymous";   // token name, JWT subject or auth_request user
  std::vector<std::string> tools;   // tools this caller may use (exact or glob); empty = all
  std::vector<std::string> scopes;
  std::string address;              // client address after trusted proxies
  bool authenticated = false;
};

// Why the policy refused a call: becomes a JSON-RPC error and the record's status.
struct PolicyDenial {
  std::string status;   // "denied" | "rate_limited"
  int code = -32000;
  std::string message;
  std::string reason;   // counter label
};

// Authorization and tool-level limits, applied once the method and tool are known from the
// body (never from headers alone). Tool names are given as `<upstream><sep><tool>`.
class CallPolicy {
 public:
  virtual ~CallPolicy() = default;
  virtual boost::asio::awaitable<std::optional<PolicyDenial>> admit(const RequestCaller& caller,
                                                                    std::string_view method,
                                                                    std::string_view tool) const = 0;
  virtual bool tool_visible(const RequestCaller& caller, std::string_view tool) const = 0;
};

// One MCP request as seen by the recorder and metrics: the seam later layers consume.
struct InteractionRecord {
  std::chrono::system_clock::time_point timestamp = std::chrono::system_clock::now();
  std::string upstream;       // agent_type
  std::string method;
  std::string client = "anonymous";
  std::string session_id;     // raw; hashed before it is stored
  std::string tool;           // tools/call only
  std::string status;         // ok|error|timeout|denied|rate_limited|unavailable
  int error_code = 0;
  std::string error_message;
  double latency_ms = 0;
  std::size_t request_bytes = 0;
  std::size_t response_bytes = 0;
  json::value arguments;      // tools/call arguments (for hashing), may be null
  json::value result_meta;    // result._meta (tags), may be null
  json::value result;         // the result (or error) sent back, for output hashing and capture
  bool timed_out = false;
  // Bastion's span for this request when tracing is on (telemetry configured); empty otherwise.
  std::string trace_id, span_id, parent_span_id;
};

class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual void record(InteractionRecord record) = 0;
  // For requests answered by an upstream: the reply is held until this returns, so a sink that
  // promises durability (store.durability: sync) can make the row survive a crash first.
  virtual boost::asio::awaitable<void> commit(InteractionRecord record) {
    this->record(std::move(record));
    co_return;
  }
  // Whether commit() may hold a reply at all; when not, record() is called directly (no
  // coroutine frame per call).
  virtual bool holds_replies() const { return false; }
  // Whether records need the arguments and result (hashing, tags, capture); when not, the router
  // does not copy them.
  virtual bool wants_payloads() const { return true; }
};

class Router {
 public:
  Router(const core::Config& config, std::map<std::string, std::shared_ptr<upstream::Upstream>> upstreams,
         std::shared_ptr<RecordSink> records);

  // Handles initialize for a new stateful session; returns the JSON-RPC response.
  boost::asio::awaitable<json::object> initialize(std::shared_ptr<ClientSession> session, Message request);
  // Runs one request to completion, appending every message for the client to `stream` (related
  // notifications, server->client requests, and the final response), then ends the stream.
  boost::asio::awaitable<void> run_request(std::shared_ptr<ClientSession> session, Message request,
                                           std::shared_ptr<EventStream> stream,
                                           std::size_t request_bytes = 0,
                                           std::shared_ptr<const RequestCaller> caller = nullptr);
  void set_policy(std::shared_ptr<const CallPolicy> policy) { policy_ = std::move(policy); }
  // The name a policy sees for a tool exposed on `route`.
  std::string policy_tool_name(const std::string& route, std::string_view exposed) const;
  // Client notifications and responses: no reply is owed to the client.
  void handle_notification(const std::shared_ptr<ClientSession>& session, const Message& message);
  void handle_response(const std::shared_ptr<ClientSession>& session, const Message& message);
  // Ends a session: cancels what it has in flight and stops its dedicated upstreams.
  boost::asio::awaitable<void> close_session(std::shared_ptr<ClientSession> session);

  bool has_upstream(const std::string& name) const { return upstreams_.count(name) > 0; }
  const std::map<std::string, std::shared_ptr<upstream::Upstream>>& upstreams() const { return upstreams_; }
  // The input schema of a tool as the client names it on `route`, from the cached catalog.
  boost::asio::awaitable<std::optional<json::object>> tool_schema(const std::string& route,
                                                                  const std::string& exposed);
  // The same from the cached catalog only, without a coroutine or a copy (it runs on every
  // 2026-era tools/call). `cached` is false when the catalog is not cached: then use
  // tool_schema(). `schema` (null when the tool declares none) points into `catalog`.
  struct CachedSchema {
    upstream::Upstream::Catalog catalog;
    const json::object* schema = nullptr;
    bool cached = false;
  };
  CachedSchema cached_tool_schema(const std::string& route, const std::string& exposed) const;
  // server/discover result for a route ("" = federated).
  boost::asio::awaitable<json::object> discover(const std::string& route);

 private:
  // Where a tool's schema lives: its upstream (not per-client) and its name there.
  struct SchemaTarget {
    std::map<std::string, std::shared_ptr<upstream::Upstream>>::const_iterator upstream;
    std::string name;
  };
  std::optional<SchemaTarget> schema_target(const std::string& route, const std::string& exposed) const;
  boost::asio::awaitable<std::shared_ptr<upstream::Link>> acquire_link(
      const std::shared_ptr<ClientSession>& session, upstream::Upstream& up);
  boost::asio::awaitable<json::object> forward(const std::shared_ptr<ClientSession>& session,
                                               upstream::Upstream& up, Message request,
                                               const std::shared_ptr<EventStream>& stream,
                                               InteractionRecord& record);
  boost::asio::awaitable<json::object> federated_list(const std::shared_ptr<ClientSession>& session,
                                                      const Message& request, const std::string& kind);
  boost::asio::awaitable<json::object> federated_route(const std::shared_ptr<ClientSession>& session,
                                                       Message request,
                                                       const std::shared_ptr<EventStream>& stream,
                                                       InteractionRecord& record);
  json::object merged_capabilities() const;
  void bind_link_events(const std::shared_ptr<ClientSession>& session,
                        const std::shared_ptr<upstream::Link>& link);
  bool wants_payloads() const { return records_ && records_->wants_payloads(); }

  core::Config config_;
  std::map<std::string, std::shared_ptr<upstream::Upstream>> upstreams_;
  Federation federation_;
  std::unique_ptr<MergedCatalogs> merged_ = std::make_unique<MergedCatalogs>();  // federated lists
  std::map<std::string, Federation> passthrough_;  // per upstream: its filters, no prefixes
  std::shared_ptr<RecordSink> records_;
  std::shared_ptr<const CallPolicy> policy_;
  bool tracing_ = false;  // telemetry configured: every request gets a span, passed on upstream
};

}  // namespace bastion::mcp
