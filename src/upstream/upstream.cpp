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
#include "net/io_strand.hpp"
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

Upstream::Upstream(asio::any_io_executor ex, core::UpstreamConfig config, LinkMaker maker)
    : ex_(net::make_io_strand(ex)), config_(std::move(config)), maker_(std::move(maker)) {
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
  std::vector<std::shared_ptr<Slot>> slots;
  {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < config_.replicas; ++i) slots_.push_back(std::make_shared<Slot>(ex_));
    slots = slots_;
  }
  // Each replica runs its own supervision loop; start() waits until each had a first chance.
  for (std::size_t i = 0; i < slots.size(); ++i) asio::co_spawn(ex_, run_replica(slots[i], i), asio::detached);
  auto deadline = std::chrono::steady_clock::now() + config_.start_timeout;
  asio::steady_timer poll(ex_);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mutex_);
      std::size_t settled = 0;
      for (auto& slot : slots_) settled += (slot->link && slot->link->up()) ? 1 : 0;
      if (settled == slots_.size() || restarts_ > 0) break;
    }
    poll.expires_after(20ms);
    co_await poll.async_wait(asio::use_awaitable);
  }
}

// Creates, starts and initializes one replica's link. Its closure wakes the slot only while it is
// the slot's serving link: a replaced link being drained may exit quietly.
asio::awaitable<std::shared_ptr<Link>> Upstream::start_replica(std::shared_ptr<Slot> slot, std::size_t index,
                                                                std::string& error) {
  int id;
  {
    std::lock_guard lock(mutex_);
    id = next_replica_id_++;
  }
  auto link = maker_ ? maker_(ex_, config_, id) : make_link(ex_, config_, id, http_pool_);
  if (!link) {
    error = "cannot create link";
    co_return nullptr;
  }
  std::weak_ptr<Upstream> weak = weak_from_this();
  std::weak_ptr<Link> weak_link = link;
  link->set_events(LinkEvents{
      [weak](json::object n) {
        if (auto self = weak.lock()) self->broadcast(n);
      },
      [weak_link](json::object request) {
        // A server->client request with several calls in flight cannot be attributed to one
        // client without leaking across sessions: refuse it.
        if (auto l = weak_link.lock()) {
          l->respond(mcp::make_error(request["id"], mcp::code::method_not_found,
                                     "Bastion cannot attribute this request to one client "
                                     "(shared upstream with several calls in flight)"));
        }
      },
      // Weak references only: the slot owns this link, which owns these callbacks.
      [weak, weak_slot = std::weak_ptr<Slot>(slot), weak_link](const std::string&) {
        if (auto self = weak.lock()) {
          asio::post(self->ex_, [weak_slot, weak_link] {
            auto closed = weak_link.lock();
            auto live = weak_slot.lock();
            if (closed && live && live->link == closed) {
              live->exited = true;
              signal(*live);
            }
          });
        }
      }});
  auto spawned = maker_ ? StartResult{true, {}} : start_link(link);
  if (!spawned) {
    error = spawned.error();
    co_return nullptr;
  }
  if (!co_await handshake(link, config_.start_timeout)) {
    error = "initialize handshake failed or timed out";
    co_await stop_link(link);
    co_return nullptr;
  }
  spdlog::info("[upstream {}] replica {} ready", config_.name, index);
  co_return link;
}

asio::awaitable<void> Upstream::wait_for_work(Slot& slot) {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) co_return;
    }
    if (slot.exited || slot.replace || slot.retire) co_return;
    slot.wake.expires_at(asio::steady_timer::time_point::max());
    boost::system::error_code ec;
    co_await slot.wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<void> Upstream::drain_and_stop(std::shared_ptr<Link> link, std::chrono::milliseconds grace) {
  auto keep_alive = shared_from_this();
  auto deadline = std::chrono::steady_clock::now() + grace;
  asio::steady_timer poll(ex_);
  // Bounded: the calls already on this replica finish, or the grace period ends.
  while (link->up() && link->in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
    poll.expires_after(20ms);
    co_await poll.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (link->in_flight() > 0) {
    spdlog::warn("[upstream {}] drained replica still had {} call(s) after {} ms; stopping it", config_.name,
                 link->in_flight(), grace.count());
  }
  co_await stop_link(link);
}

asio::awaitable<void> Upstream::run_replica(std::shared_ptr<Slot> slot, std::size_t index) {
  auto keep_alive = shared_from_this();  // the supervision loop keeps its upstream alive
  stdio::RestartBackoff backoff(stdio::RestartPolicy{});
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) co_return;
    }
    if (slot->retire) co_return;
    std::string error;
    auto started = std::chrono::steady_clock::now();
    auto link = co_await start_replica(slot, index, error);
    if (link) {
      {
        std::lock_guard lock(mutex_);
        slot->link = link;
        slot->exited = false;
        server_info_ = link->server_info();
        if (stopping_) co_return;
      }
      for (;;) {
        co_await wait_for_work(*slot);
        {
          std::lock_guard lock(mutex_);
          if (stopping_) co_return;
        }
        if (slot->retire) {
          {
            std::lock_guard lock(mutex_);
            slot->link = nullptr;
          }
          spdlog::info("[upstream {}] replica {} removed (scale in)", config_.name, index);
          co_await drain_and_stop(link, slot->grace);
          co_return;
        }
        if (slot->exited) break;
        auto reason = std::move(*slot->replace);
        slot->replace.reset();
        std::string replace_error;
        auto fresh = co_await start_replica(slot, index, replace_error);
        if (!fresh) {
          spdlog::error("[upstream {}] replica {}: replacement ({}) failed: {}; keeping the running one",
                        config_.name, index, reason, replace_error);
          continue;
        }
        {
          std::lock_guard lock(mutex_);
          if (stopping_) {
            fresh->set_events({});
            asio::co_spawn(ex_, stop_link(fresh), asio::detached);
            co_return;
          }
          slot->link = fresh;
          slot->exited = false;
          ++restarts_;
          ++restarts_by_reason_[reason];
        }
        spdlog::warn("[upstream {}] replica {} replaced ({}); draining the old one", config_.name, index, reason);
        asio::co_spawn(ex_, drain_and_stop(link, slot->grace), asio::detached);
        link = fresh;
        started = std::chrono::steady_clock::now();
      }
      {
        std::lock_guard lock(mutex_);
        if (stopping_) co_return;
        slot->link = nullptr;
      }
      error = "replica exited";
      if (std::chrono::steady_clock::now() - started > 30s) backoff.on_healthy();
      co_await stop_link(link);  // reap and kill the process group
    }
    std::chrono::milliseconds delay;
    {
      std::lock_guard lock(mutex_);
      last_error_ = error;
      ++restarts_;
      ++restarts_by_reason_["exit"];
    }
    if (auto d = backoff.on_exit(std::chrono::steady_clock::now())) {
      delay = *d;
    } else {
      delay = 30s;  // crash loop: keep the replica down for a while, then try again
      backoff.reset();
      spdlog::error("[upstream {}] replica {} is crash-looping; next attempt in {}s", config_.name,
                    index, delay.count() / 1000);
    }
    spdlog::warn("[upstream {}] replica {}: {}; restarting in {} ms", config_.name, index, error,
                 delay.count());
    asio::steady_timer wait(ex_, delay);
    co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> Upstream::stop() {
  std::vector<std::shared_ptr<Slot>> slots;
  std::vector<std::shared_ptr<Link>> links;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    slots = slots_;
    for (auto& slot : slots_) {
      if (slot->link) links.push_back(slot->link);
    }
  }
  for (auto& slot : slots) {
    asio::post(ex_, [slot] { signal(*slot); });
  }
  for (auto& l : links) co_await stop_link(l);
  if (http_pool_) http_pool_->close_idle();
}

bool Upstream::restart_replica(std::size_t index, std::string reason, std::chrono::milliseconds grace) {
  if (!supervised()) return false;
  std::shared_ptr<Slot> slot;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || index >= slots_.size()) return false;
    slot = slots_[index];
  }
  asio::post(ex_, [slot, reason = std::move(reason), grace]() mutable {
    if (slot->replace || slot->retire) return;  // one at a time
    slot->replace = std::move(reason);
    slot->grace = grace;
    signal(*slot);
  });
  return true;
}

bool Upstream::add_replica(std::size_t max) {
  if (!supervised()) return false;
  std::shared_ptr<Slot> slot;
  std::size_t index;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || slots_.size() >= max) return false;
    slot = std::make_shared<Slot>(ex_);
    index = slots_.size();
    slots_.push_back(slot);
  }
  spdlog::info("[upstream {}] adding replica {} (scale out)", config_.name, index);
  asio::co_spawn(ex_, run_replica(slot, index), asio::detached);
  return true;
}

bool Upstream::remove_replica(std::chrono::milliseconds grace) {
  if (!supervised()) return false;
  std::shared_ptr<Slot> slot;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || slots_.size() <= config_.replicas) return false;
    slot = slots_.back();
    slots_.pop_back();  // no new calls from now on
  }
  asio::post(ex_, [slot, grace] {
    slot->retire = true;
    slot->grace = grace;
    signal(*slot);
  });
  return true;
}

std::shared_ptr<Link> Upstream::pick_shared() {
  std::lock_guard lock(mutex_);
  std::shared_ptr<Link> best;
  std::size_t n = slots_.size();
  for (std::size_t i = 0; i < n; ++i) {
    auto& candidate = slots_[(round_robin_ + i) % n]->link;
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
  auto link = maker_ ? maker_(ex_, config_, id) : make_link(ex_, config_, id, http_pool_);
  if (!link) return nullptr;
  auto started = maker_ ? StartResult{true, {}} : start_link(link);
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

bool Upstream::speaks_version(std::string_view version) const {
  std::lock_guard lock(mutex_);
  if (!server_info_) return false;
  const auto* v = server_info_->if_contains("protocolVersion");
  return v && v->is_string() && v->get_string() == version;
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

Upstream::Catalog Upstream::cached_catalog(std::string_view kind) const {
  std::lock_guard lock(mutex_);
  auto it = catalog_.find(kind);
  return it == catalog_.end() ? nullptr : it->second;
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
  s.supervised = supervised();
  s.replicas = per_client() ? 0 : slots_.size();
  s.base_replicas = per_client() ? 0 : config_.replicas;
  for (auto& slot : slots_) {
    const auto& r = slot->link;
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
  s.restarts_by_reason = restarts_by_reason_;
  s.last_error = last_error_;
  return s;
}

}  // namespace bastion::upstream
