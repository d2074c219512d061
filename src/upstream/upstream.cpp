#include "upstream/upstream.hpp"

#include "upstream/stdio_link.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "mcp/jsonrpc.hpp"
#include "mcp/protocol.hpp"
#include "upstream/link_factory.hpp"

namespace bastion::upstream {

namespace asio = boost::asio;
using namespace std::chrono_literals;

json::object bastion_client_capabilities() {
  // Bastion relays these to its own clients, so it can offer them to upstreams.
  return json::object{{"sampling", json::object{}},
                      {"elicitation", json::object{}},
                      {"roots", json::object{{"listChanged", true}}}};
}

namespace {
json::object discover_params(json::object meta) {
  json::object p;
  p["_meta"] = std::move(meta);
  return p;
}
}  // namespace

json::object bastion_client_info() {
  return json::object{{"name", "bastion"}, {"version", "0.1.0"}};
}

asio::awaitable<std::optional<json::object>> call_and_wait(std::shared_ptr<Link> link,
                                                           json::object request,
                                                           std::chrono::milliseconds timeout) {
  using namespace asio::experimental::awaitable_operators;
  auto call = link->start_call(std::move(request), nullptr);
  if (!call) co_return std::nullopt;
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  std::optional<json::object> response;
  for (;;) {
    auto winner = co_await (call->inbox.async_receive(asio::as_tuple(asio::use_awaitable)) ||
                            timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (winner.index() == 1) {
      link->cancel_call(call, "timeout");
      co_return std::nullopt;
    }
    auto [ec, message] = std::get<0>(std::move(winner));
    if (ec) break;
    if (!message.contains("method")) {
      response = std::move(message);
      break;
    }
    if (message.contains("id")) {  // a server->client request during Bastion's own call
      link->respond(mcp::make_error(message["id"], mcp::code::method_not_found,
                                    "not available during gateway-internal requests"));
    }
  }
  link->finish_call(call);
  co_return response;
}

asio::awaitable<void> probe_stateless(std::shared_ptr<Link> link, std::chrono::milliseconds timeout) {
  // A dual-era upstream answers server/discover; then 2026-era requests pass through untouched.
  json::object meta{{mcp::meta::protocol_version, mcp::stateless_version},
                    {mcp::meta::client_capabilities, bastion_client_capabilities()},
                    {mcp::meta::client_info, bastion_client_info()}};
  auto response = co_await call_and_wait(
      link,
      make_request("server/discover", discover_params(meta)),
      std::min<std::chrono::milliseconds>(timeout, std::chrono::milliseconds(3000)));
  if (!response || !response->contains("result") || !(*response)["result"].is_object()) co_return;
  auto& result = (*response)["result"].get_object();
  auto* versions = result.if_contains("supportedVersions");
  if (!versions || !versions->is_array()) co_return;
  for (const auto& v : versions->get_array()) {
    if (v.is_string() && v.get_string() == mcp::stateless_version) {
      link->set_discover_result(result);
      co_return;
    }
  }
}

asio::awaitable<bool> handshake(std::shared_ptr<Link> link, std::chrono::milliseconds timeout,
                                std::optional<json::object> client_params, bool probe) {
  json::object params = client_params ? std::move(*client_params)
                                      : json::object{{"protocolVersion", mcp::latest_stateful_version},
                                                     {"capabilities", bastion_client_capabilities()},
                                                     {"clientInfo", bastion_client_info()}};
  auto response = co_await call_and_wait(link, make_request("initialize", std::move(params)), timeout);
  if (response && response->contains("result") && (*response)["result"].is_object()) {
    link->set_server_info((*response)["result"].get_object());
    link->notify(json::object{{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
    if (probe) co_await probe_stateless(link, timeout);
    co_return true;
  }
  if (!response || !link->up()) co_return false;
  // No initialize: perhaps a server written for 2026-07-28 alone. Then Bastion speaks the
  // stateless protocol to it and plays the 2025 handshake for its own clients.
  co_await probe_stateless(link, timeout);
  auto discovered = link->discover_result();
  if (!discovered) co_return false;
  json::object info{{"protocolVersion", mcp::stateless_version}};
  if (auto* caps = discovered->if_contains("capabilities")) info["capabilities"] = *caps;
  if (auto* ins = discovered->if_contains("instructions")) info["instructions"] = *ins;
  info["serverInfo"] = json::object{{"name", link->upstream_name()}, {"version", "unknown"}};
  if (auto* meta = discovered->if_contains("_meta"); meta && meta->is_object()) {
    if (auto* si = meta->get_object().if_contains("io.modelcontextprotocol/serverInfo")) info["serverInfo"] = *si;
  }
  link->set_server_info(std::move(info));
  link->set_stateless_only(true);
  spdlog::info("[upstream {}] speaks only 2026-07-28; Bastion translates for 2025-era clients",
               link->upstream_name());
  co_return true;
}

Upstream::Upstream(asio::any_io_executor ex, core::UpstreamConfig config)
    : ex_(asio::make_strand(ex)), config_(std::move(config)) {
  if (!config_.is_stdio()) http_pool_ = make_http_pool(ex, config_);
}

asio::awaitable<void> Upstream::start() {
  if (per_client()) {
    // Learn the server's identity once, from a throw-away link, so federation and health know it.
    auto probe = create_dedicated();
    if (probe && co_await handshake(probe, config_.start_timeout)) {
      std::lock_guard lock(mutex_);
      server_info_ = probe->server_info();
    } else {
      std::lock_guard lock(mutex_);
      last_error_ = "probe handshake failed";
    }
    if (probe) co_await stop_link(probe);
    co_return;
  }
  {
    std::lock_guard lock(mutex_);
    replicas_.assign(config_.replicas, nullptr);
    for (std::size_t i = 0; i < config_.replicas; ++i) {
      replica_exit_.push_back(std::make_shared<asio::steady_timer>(ex_));
    }
  }
  // Each replica runs its own supervision loop; start() waits until each had a first chance.
  for (std::size_t i = 0; i < config_.replicas; ++i) {
    asio::co_spawn(ex_, run_replica(i), asio::detached);
  }
  auto deadline = std::chrono::steady_clock::now() + config_.start_timeout;
  asio::steady_timer poll(ex_);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mutex_);
      std::size_t settled = 0;
      for (auto& r : replicas_) settled += (r && r->up()) ? 1 : 0;
      if (settled == config_.replicas || restarts_ > 0) break;
    }
    poll.expires_after(20ms);
    co_await poll.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<void> Upstream::run_replica(std::size_t slot) {
  auto keep_alive = shared_from_this();  // the supervision loop keeps its upstream alive
  stdio::RestartBackoff backoff(stdio::RestartPolicy{});
  auto exit_signal = replica_exit_[slot];
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) co_return;
    }
    auto link = make_link(ex_, config_, next_replica_id_++, http_pool_);
    std::string error;
    auto started = std::chrono::steady_clock::now();
    if (!link) {
      error = "cannot create link";
    } else {
      std::weak_ptr<Upstream> weak = weak_from_this();
      exit_signal->expires_at(asio::steady_timer::time_point::max());
      link->set_events(LinkEvents{
          [weak](json::object n) {
            if (auto self = weak.lock()) self->broadcast(n);
          },
          [weak, w = std::weak_ptr<Link>(link)](json::object request) {
            // A server->client request with several calls in flight cannot be attributed to one
            // client without leaking across sessions: refuse it.
            if (auto l = w.lock()) {
              l->respond(mcp::make_error(request["id"], mcp::code::method_not_found,
                                         "Bastion cannot attribute this request to one client "
                                         "(shared upstream with several calls in flight)"));
            }
          },
          [weak, exit_signal](const std::string&) {
            if (auto self = weak.lock()) {
              asio::post(self->ex_, [exit_signal] {
                exit_signal->expires_at(asio::steady_timer::time_point::min());
              });
            }
          }});
      auto spawned = start_link(link);
      if (!spawned) {
        error = spawned.error();
      } else if (!co_await handshake(link, config_.start_timeout)) {
        error = "initialize handshake failed or timed out";
        co_await stop_link(link);
      } else {
        {
          std::lock_guard lock(mutex_);
          replicas_[slot] = link;
          server_info_ = link->server_info();
          if (stopping_) co_return;
        }
        spdlog::info("[upstream {}] replica {} ready", config_.name, slot);
        boost::system::error_code ec;
        co_await exit_signal->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        {
          std::lock_guard lock(mutex_);
          if (stopping_) co_return;
          replicas_[slot] = nullptr;
        }
        error = "replica exited";
        if (std::chrono::steady_clock::now() - started > 30s) backoff.on_healthy();
        co_await stop_link(link);  // reap and kill the process group
      }
    }
    std::chrono::milliseconds delay;
    {
      std::lock_guard lock(mutex_);
      last_error_ = error;
      ++restarts_;
    }
    if (auto d = backoff.on_exit(std::chrono::steady_clock::now())) {
      delay = *d;
    } else {
      delay = 30s;  // crash loop: keep the replica down for a while, then try again
      backoff.reset();
      spdlog::error("[upstream {}] replica {} is crash-looping; next attempt in {}s", config_.name,
                    slot, delay.count() / 1000);
    }
    spdlog::warn("[upstream {}] replica {}: {}; restarting in {} ms", config_.name, slot, error,
                 delay.count());
    asio::steady_timer wait(ex_, delay);
    co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> Upstream::stop() {
  std::vector<std::shared_ptr<Link>> links;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    links = replicas_;
  }
  for (auto& t : replica_exit_) {
    asio::post(ex_, [t] { t->expires_at(asio::steady_timer::time_point::min()); });
  }
  for (auto& l : links) {
    if (l) co_await stop_link(l);
  }
  if (http_pool_) http_pool_->close_idle();
}

std::shared_ptr<Link> Upstream::pick_shared() {
  std::lock_guard lock(mutex_);
  std::shared_ptr<Link> best;
  std::size_t n = replicas_.size();
  for (std::size_t i = 0; i < n; ++i) {
    auto& candidate = replicas_[(round_robin_ + i) % n];
    if (!candidate || !candidate->up()) continue;
    if (!best || candidate->in_flight() < best->in_flight()) best = candidate;
  }
  ++round_robin_;
  return best;
}

std::shared_ptr<Link> Upstream::create_dedicated() {
  int id;
  {
    std::lock_guard lock(mutex_);
    id = next_replica_id_++;
  }
  auto link = make_link(ex_, config_, id, http_pool_);
  if (!link) return nullptr;
  auto started = start_link(link);
  if (!started) {
    std::lock_guard lock(mutex_);
    last_error_ = started.error();
    return nullptr;
  }
  return link;
}

std::optional<json::object> Upstream::server_info() const {
  std::lock_guard lock(mutex_);
  return server_info_;
}

asio::awaitable<Upstream::Catalog> Upstream::catalog(std::string kind) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = catalog_.find(kind); it != catalog_.end()) co_return it->second;
  }
  std::shared_ptr<Link> link = pick_shared();
  bool dedicated = false;
  if (!link && per_client()) {
    link = create_dedicated();
    dedicated = link != nullptr;
    if (dedicated && !co_await handshake(link, config_.start_timeout)) {
      co_await stop_link(link);
      co_return nullptr;
    }
  }
  if (!link) co_return nullptr;
  std::string method = kind == "resourceTemplates" ? "resources/templates/list" : kind + "/list";
  json::array all;
  std::optional<std::string> cursor;
  bool ok = true;
  for (int page = 0; page < 100; ++page) {  // bounded: a looping cursor cannot hold us forever
    json::object params;
    if (cursor) params["cursor"] = *cursor;
    auto response = co_await call_and_wait(
        link, make_request(method, std::move(params)), config_.timeout);
    if (!response || !response->contains("result") || !(*response)["result"].is_object()) {
      ok = false;
      break;
    }
    auto& result = (*response)["result"].get_object();
    if (auto* items = result.if_contains(kind); items && items->is_array()) {
      for (auto& item : items->get_array()) all.push_back(item);
    }
    auto* next = result.if_contains("nextCursor");
    if (!next || !next->is_string() || next->get_string().empty()) break;
    cursor = std::string(next->get_string());
  }
  if (dedicated) co_await stop_link(link);
  if (!ok) co_return nullptr;
  auto shared = std::make_shared<const json::array>(std::move(all));
  {
    std::lock_guard lock(mutex_);
    catalog_[kind] = shared;
  }
  co_return shared;
}

void Upstream::invalidate_catalog(const std::string& kind) {
  std::lock_guard lock(mutex_);
  catalog_.erase(kind);
}

void Upstream::add_sink(std::weak_ptr<NotificationSink> sink) {
  std::lock_guard lock(mutex_);
  std::erase_if(sinks_, [](const auto& w) { return w.expired(); });
  sinks_.push_back(std::move(sink));
}

void Upstream::broadcast(const json::object& notification) {
  auto method = notification.at("method").get_string();
  if (method == "notifications/tools/list_changed") invalidate_catalog("tools");
  if (method == "notifications/prompts/list_changed") invalidate_catalog("prompts");
  if (method == "notifications/resources/list_changed") {
    invalidate_catalog("resources");
    invalidate_catalog("resourceTemplates");
  }
  std::vector<std::shared_ptr<NotificationSink>> live;
  {
    std::lock_guard lock(mutex_);
    for (auto& w : sinks_) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->upstream_notification(config_.name, notification);
}

UpstreamStatus Upstream::status() const {
  std::lock_guard lock(mutex_);
  UpstreamStatus s;
  s.name = config_.name;
  s.replicas = per_client() ? 0 : replicas_.size();
  for (auto& r : replicas_) {
    if (r && r->up()) {
      ++s.replicas_up;
      s.in_flight += r->in_flight();
    }
    // Each stdio replica leads its own process group.
    const auto* stdio = dynamic_cast<const StdioLink*>(r.get());
    s.replica_pgids.push_back(stdio && r->up() ? static_cast<int>(stdio->pid()) : 0);
  }
  s.up = per_client() ? server_info_.has_value() : s.replicas_up > 0;
  s.restarts = restarts_;
  s.last_error = last_error_;
  return s;
}

}  // namespace bastion::upstream
