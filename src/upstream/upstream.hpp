#pragma once
// One configured upstream: its shared replicas (supervised, restarted with backoff), the factory
// for per-client links, the cached catalog (tools, prompts, resources, templates) and the
// fan-out of notifications that concern every client.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "core/config.hpp"
#include "net/client/http_client.hpp"
#include "upstream/link.hpp"
#include "upstream/request_state_affinity.hpp"
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
  bool supervised = false;  // shared stdio replicas Bastion can restart and add
  std::size_t replicas_up = 0;
  // Process group of each shared stdio replica (its leader's pid; 0 when down or not stdio).
  std::vector<int> replica_pgids;
  std::size_t replicas = 0;       // now, scaled-out ones included
  std::size_t base_replicas = 0;  // as configured
  std::uint64_t restarts = 0;
  std::map<std::string, std::uint64_t> restarts_by_reason;  // exit, memory, error_rate, ...
  std::string last_error;
  std::size_t in_flight = 0;
};

// Makes the link of one replica (or dedicated session), ready for its handshake; nullptr when it
// cannot. The default builds and starts the configured transport; the HTTP fuzz target passes an
// in-process one.
using LinkMaker = std::function<std::shared_ptr<Link>(boost::asio::any_io_executor ex,
                                                      const core::UpstreamConfig& config, int replica)>;

class Upstream : public std::enable_shared_from_this<Upstream> {
 public:
  Upstream(boost::asio::any_io_executor ex, core::UpstreamConfig config, LinkMaker maker = {});
  const core::UpstreamConfig& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  bool per_client() const { return config_.sessions == core::UpstreamConfig::Sessions::per_client; }

  // Starts the shared replicas (for shared upstreams) and waits for their handshakes.
  boost::asio::awaitable<void> start();
  boost::asio::awaitable<void> stop();

  // The least busy healthy shared replica, or nullptr when none is up.
  std::shared_ptr<Link> pick_shared();
  // Which shared replica issued each recent MRTR requestState, so the next round reaches it.
  RequestStateAffinity& request_states() { return request_states_; }
  // A new dedicated link (per-client sessions); the caller performs the handshake.
  std::shared_ptr<Link> create_dedicated();

  // The server's initialize result (capabilities, serverInfo, instructions), once known.
  std::optional<json::object> server_info() const;
  // Whether that result names `version` as the protocol version (read in place, no copy: the
  // request path asks this on every call).
  bool speaks_version(std::string_view version) const;

  // The full catalog list (all pages) for "tools", "prompts", "resources" or "resourceTemplates",
  // cached until the upstream says it changed. nullopt when the upstream cannot answer.
  // Shared and immutable: callers on the request path read it without copying.
  using Catalog = std::shared_ptr<const json::array>;
  boost::asio::awaitable<Catalog> catalog(std::string kind);
  // The cached catalog only, without a coroutine: null when it is not cached (yet, or any more).
  Catalog cached_catalog(std::string_view kind) const;
  void invalidate_catalog(const std::string& kind);

  void add_sink(std::weak_ptr<NotificationSink> sink);
  UpstreamStatus status() const;

  // Supervision actions (shared stdio upstreams only; false otherwise). They return at once; the
  // work happens on the upstream's strand.
  // Replaces a replica without failing calls: the new process is started and initialized first,
  // then the old one takes no new calls and is stopped once its calls finished or `grace` passed.
  bool restart_replica(std::size_t slot, std::string reason, std::chrono::milliseconds grace);
  // Adds a replica (up to `max`); removes the newest added one, drained the same way.
  bool add_replica(std::size_t max);
  bool remove_replica(std::chrono::milliseconds grace);

 private:
  // One replica position: the serving link and what its supervision loop is asked to do.
  struct Slot {
    explicit Slot(boost::asio::any_io_executor ex) : wake(ex) {}
    std::shared_ptr<Link> link;          // serving; null while (re)starting
    boost::asio::steady_timer wake;      // signalled when one of the flags below changes
    bool exited = false;                 // the serving link closed
    std::optional<std::string> replace;  // a replacement was asked for, with this reason
    bool retire = false;                 // scale in: drain and stop for good
    std::chrono::milliseconds grace{30'000};
  };
  bool supervised() const { return config_.is_stdio() && !per_client(); }
  boost::asio::awaitable<void> run_replica(std::shared_ptr<Slot> slot, std::size_t index);
  boost::asio::awaitable<std::shared_ptr<Link>> start_replica(std::shared_ptr<Slot> slot, std::size_t index,
                                                               std::string& error);
  boost::asio::awaitable<void> wait_for_work(Slot& slot);
  boost::asio::awaitable<void> drain_and_stop(std::shared_ptr<Link> link, std::chrono::milliseconds grace);
  static void signal(Slot& slot) { slot.wake.expires_at(boost::asio::steady_timer::time_point::min()); }
  void broadcast(const json::object& notification);

  boost::asio::any_io_executor ex_;
  core::UpstreamConfig config_;
  LinkMaker maker_;  // empty: the configured transport
  mutable std::mutex mutex_;
  std::shared_ptr<net::client::HttpClientPool> http_pool_;  // HTTP upstreams only
  std::vector<std::shared_ptr<Slot>> slots_;  // changed on the strand, under mutex_
  std::optional<json::object> server_info_;
  std::map<std::string, Catalog, std::less<>> catalog_;
  RequestStateAffinity request_states_;
  std::vector<std::weak_ptr<NotificationSink>> sinks_;
  std::uint64_t restarts_ = 0;
  std::map<std::string, std::uint64_t> restarts_by_reason_;
  std::string last_error_;
  bool stopping_ = false;
  std::size_t round_robin_ = 0;
  int next_replica_id_ = 0;
};

}  // namespace bastion::upstream
