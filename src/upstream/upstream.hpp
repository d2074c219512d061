#pragma once
// One configured upstream: its shared replicas (supervised, restarted with backoff), the factory
// for per-client links, the cached catalog (tools, prompts, resources, templates) and the
// fan-out of notifications that concern every client.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "core/config.hpp"
#include "net/client/http_client.hpp"
#include "upstream/link.hpp"
#include "upstream/stdio/restart_backoff.hpp"

namespace bastion::upstream {

// Receives notifications that an upstream sends to all of its clients (list_changed, updates).
class NotificationSink {
 public:
  virtual ~NotificationSink() = default;
  virtual void upstream_notification(const std::string& upstream, const json::object& notification) = 0;
};

// Bastion's own client identity towards upstreams it initializes itself.
json::object bastion_client_capabilities();
json::object bastion_client_info();

// Sends `request` on `link` and waits for its response (or a timeout / link failure), ignoring
// notifications and refusing server->client requests. For Bastion's own calls.
boost::asio::awaitable<std::optional<json::object>> call_and_wait(std::shared_ptr<Link> link,
                                                                  json::object request,
                                                                  std::chrono::milliseconds timeout);

// Asks a freshly initialized upstream whether it also speaks 2026-07-28 (server/discover).
boost::asio::awaitable<void> probe_stateless(std::shared_ptr<Link> link, std::chrono::milliseconds timeout);

// Performs the initialize handshake on a fresh link: Bastion's own (2025-11-25) unless a client's
// initialize params are given. A server that refuses initialize but answers server/discover for
// 2026-07-28 is marked stateless-only. `probe` also asks a dual-era server for server/discover.
boost::asio::awaitable<bool> handshake(std::shared_ptr<Link> link, std::chrono::milliseconds timeout,
                                       std::optional<json::object> client_params = std::nullopt,
                                       bool probe = true);

struct UpstreamStatus {
  std::string name;
  bool up = false;
  std::size_t replicas_up = 0;
  // Process group of each shared stdio replica (its leader's pid; 0 when down or not stdio).
  std::vector<int> replica_pgids;
  std::size_t replicas = 0;
  std::uint64_t restarts = 0;
  std::string last_error;
  std::size_t in_flight = 0;
};

class Upstream : public std::enable_shared_from_this<Upstream> {
 public:
  Upstream(boost::asio::any_io_executor ex, core::UpstreamConfig config);
  const core::UpstreamConfig& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  bool per_client() const { return config_.sessions == core::UpstreamConfig::Sessions::per_client; }

  // Starts the shared replicas (for shared upstreams) and waits for their handshakes.
  boost::asio::awaitable<void> start();
  boost::asio::awaitable<void> stop();

  // The least busy healthy shared replica, or nullptr when none is up.
  std::shared_ptr<Link> pick_shared();
  // A new dedicated link (per-client sessions); the caller performs the handshake.
  std::shared_ptr<Link> create_dedicated();

  // The server's initialize result (capabilities, serverInfo, instructions), once known.
  std::optional<json::object> server_info() const;

  // The full catalog list (all pages) for "tools", "prompts", "resources" or "resourceTemplates",
  // cached until the upstream says it changed. nullopt when the upstream cannot answer.
  // Shared and immutable: callers on the request path read it without copying.
  using Catalog = std::shared_ptr<const json::array>;
  boost::asio::awaitable<Catalog> catalog(std::string kind);
  void invalidate_catalog(const std::string& kind);

  void add_sink(std::weak_ptr<NotificationSink> sink);
  UpstreamStatus status() const;

 private:
  boost::asio::awaitable<void> run_replica(std::size_t slot);
  void broadcast(const json::object& notification);

  boost::asio::any_io_executor ex_;
  core::UpstreamConfig config_;
  mutable std::mutex mutex_;
  std::shared_ptr<net::client::HttpClientPool> http_pool_;  // HTTP upstreams only
  std::vector<std::shared_ptr<Link>> replicas_;
  std::vector<std::shared_ptr<boost::asio::steady_timer>> replica_exit_;  // signalled on exit
  std::optional<json::object> server_info_;
  std::map<std::string, Catalog> catalog_;
  std::vector<std::weak_ptr<NotificationSink>> sinks_;
  std::uint64_t restarts_ = 0;
  std::string last_error_;
  bool stopping_ = false;
  std::size_t round_robin_ = 0;
  int next_replica_id_ = 0;
};

}  // namespace bastion::upstream
