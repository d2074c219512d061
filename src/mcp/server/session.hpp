#pragma once
// A client's MCP session as Bastion holds it: negotiated version and capabilities, the links it
// uses upstream, its requests in flight, the server->client requests it owes answers to, its
// resource subscriptions and log level, and its SSE streams (for resumption).
// Stateless (2026-07-28) requests get a throw-away session with no id.
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "mcp/server/event_stream.hpp"
#include "upstream/link.hpp"
#include "upstream/upstream.hpp"

namespace bastion::mcp {

namespace json = boost::json;

class ClientSession : public upstream::NotificationSink,
                      public std::enable_shared_from_this<ClientSession> {
 public:
  ClientSession(std::string id, std::string route, std::size_t replay_events);
  ~ClientSession() override;

  const std::string& id() const { return id_; }
  bool stateless() const { return id_.empty(); }
  // "" for the federated endpoint, else the upstream this session passes through to.
  const std::string& route() const { return route_; }

  std::string protocol_version;
  std::string owner;  // authenticated caller that opened the session ("" = anonymous)
  json::object client_capabilities;
  json::object client_info;
  std::optional<json::object> initialize_params;  // replayed if a dedicated upstream restarts
  std::atomic<bool> initialized{false};
  // Request headers passed on to HTTP upstreams (2026-07-28 Mcp-Param-*), per stateless request.
  upstream::ForwardHeaders forward_headers;

  // Dedicated per-client links, by upstream.
  std::shared_ptr<upstream::Link> dedicated(const std::string& upstream) const;
  void set_dedicated(const std::string& upstream, std::shared_ptr<upstream::Link> link);
  std::map<std::string, std::shared_ptr<upstream::Link>> take_dedicated();
  std::map<std::string, std::shared_ptr<upstream::Link>> dedicated_links() const;

  // Client requests in flight (by serialized client id) so notifications/cancelled can find them.
  struct InFlight {
    std::shared_ptr<upstream::Link> link;
    std::shared_ptr<upstream::Call> call;
  };
  void add_in_flight(const std::string& client_id, InFlight f);
  void remove_in_flight(const std::string& client_id);
  std::optional<InFlight> find_in_flight(const std::string& client_id) const;

  // Server->client requests relayed to this client: Bastion's id -> (link, upstream id).
  struct Outstanding {
    std::weak_ptr<upstream::Link> link;
    json::value upstream_id;
  };
  std::string add_outstanding(std::shared_ptr<upstream::Link> link, json::value upstream_id);
  std::optional<Outstanding> take_outstanding(const std::string& bastion_id);

  // Resource subscriptions and the client's log level (for shared upstreams).
  void subscribe(const std::string& uri);
  void unsubscribe(const std::string& uri);
  bool subscribed(const std::string& uri) const;
  void set_log_level(std::string level);
  void suppress_logs() { suppress_logs_ = true; }
  // The level a 2025-era client set with logging/setLevel ("" if it never did).
  std::string log_level() const;  // 2026: no logLevel in _meta, no log messages
  bool wants_log(std::string_view level) const;

  // SSE streams: number 0 is the standalone GET stream; POST replies get fresh numbers.
  std::shared_ptr<EventStream> new_stream();
  std::shared_ptr<EventStream> find_stream(std::uint64_t number) const;
  std::shared_ptr<EventStream> standalone_stream();
  void forget_finished_streams();

  // Messages with no request to ride on go to the standalone stream.
  void push_standalone(const json::object& message);
  void upstream_notification(const std::string& upstream, const json::object& notification) override;

  void touch() { last_used_ = std::chrono::steady_clock::now().time_since_epoch().count(); }
  std::chrono::steady_clock::time_point last_used() const {
    return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(last_used_.load()));
  }

 private:
  std::string id_;
  std::string route_;
  std::size_t replay_events_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<upstream::Link>> dedicated_;
  std::map<std::string, InFlight> in_flight_;
  std::map<std::string, Outstanding> outstanding_;
  std::uint64_t next_outstanding_ = 1;
  std::set<std::string> subscriptions_;
  std::string log_level_ = "info";
  bool log_level_set_ = false;
  std::atomic<bool> suppress_logs_{false};
  std::uint64_t next_stream_ = 1;
  std::map<std::uint64_t, std::shared_ptr<EventStream>> streams_;
  std::atomic<std::chrono::steady_clock::rep> last_used_{0};
};

// Severity order of MCP log levels (RFC 5424 names); -1 for unknown.
int log_level_rank(std::string_view level);

}  // namespace bastion::mcp
