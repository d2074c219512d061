#include "mcp/server/session.hpp"

namespace bastion::mcp {

int log_level_rank(std::string_view level) {
  static constexpr std::string_view order[] = {"debug", "info", "notice", "warning",
                                               "error", "critical", "alert", "emergency"};
  for (int i = 0; i < 8; ++i) {
    if (order[i] == level) return i;
  }
  return -1;
}

ClientSession::ClientSession(std::string id, std::string route, std::size_t replay_events)
    : id_(std::move(id)), route_(std::move(route)), replay_events_(replay_events) {
  touch();
  // Only a 2025-era session has a standalone (GET) stream; stateless requests never use one.
  if (!id_.empty()) streams_[0] = std::make_shared<EventStream>(0, replay_events_);
}

ClientSession::~ClientSession() = default;

std::shared_ptr<upstream::Link> ClientSession::dedicated(const std::string& upstream) const {
  std::lock_guard lock(mutex_);
  auto it = dedicated_.find(upstream);
  return it == dedicated_.end() ? nullptr : it->second;
}

void ClientSession::set_dedicated(const std::string& upstream, std::shared_ptr<upstream::Link> link) {
  std::lock_guard lock(mutex_);
  dedicated_[upstream] = std::move(link);
}

std::map<std::string, std::shared_ptr<upstream::Link>> ClientSession::take_dedicated() {
  std::lock_guard lock(mutex_);
  return std::exchange(dedicated_, {});
}

std::map<std::string, std::shared_ptr<upstream::Link>> ClientSession::dedicated_links() const {
  std::lock_guard lock(mutex_);
  return dedicated_;
}

void ClientSession::add_in_flight(const std::string& client_id, InFlight f) {
  std::lock_guard lock(mutex_);
  in_flight_[client_id] = std::move(f);
}

void ClientSession::remove_in_flight(const std::string& client_id) {
  std::lock_guard lock(mutex_);
  in_flight_.erase(client_id);
}

std::optional<ClientSession::InFlight> ClientSession::find_in_flight(const std::string& client_id) const {
  std::lock_guard lock(mutex_);
  auto it = in_flight_.find(client_id);
  if (it == in_flight_.end()) return std::nullopt;
  return it->second;
}

std::string ClientSession::add_outstanding(std::shared_ptr<upstream::Link> link, json::value upstream_id) {
  std::lock_guard lock(mutex_);
  std::string id = "bastion-s" + std::to_string(next_outstanding_++);
  outstanding_[id] = Outstanding{link, std::move(upstream_id)};
  return id;
}

std::optional<ClientSession::Outstanding> ClientSession::take_outstanding(const std::string& bastion_id) {
  std::lock_guard lock(mutex_);
  auto it = outstanding_.find(bastion_id);
  if (it == outstanding_.end()) return std::nullopt;
  auto out = std::move(it->second);
  outstanding_.erase(it);
  return out;
}

void ClientSession::subscribe(const std::string& uri) {
  std::lock_guard lock(mutex_);
  subscriptions_.insert(uri);
}

void ClientSession::unsubscribe(const std::string& uri) {
  std::lock_guard lock(mutex_);
  subscriptions_.erase(uri);
}

bool ClientSession::subscribed(const std::string& uri) const {
  std::lock_guard lock(mutex_);
  return subscriptions_.count(uri) > 0;
}

void ClientSession::set_log_level(std::string level) {
  std::lock_guard lock(mutex_);
  log_level_ = std::move(level);
  log_level_set_ = true;
}

std::string ClientSession::log_level() const {
  std::lock_guard lock(mutex_);
  return log_level_set_ ? log_level_ : std::string();
}

bool ClientSession::wants_log(std::string_view level) const {
  if (suppress_logs_) return false;
  std::lock_guard lock(mutex_);
  return log_level_rank(level) >= log_level_rank(log_level_);
}

std::shared_ptr<EventStream> ClientSession::new_stream() {
  std::lock_guard lock(mutex_);
  auto n = next_stream_++;
  auto s = std::make_shared<EventStream>(n, replay_events_);
  streams_[n] = s;
  return s;
}

std::shared_ptr<EventStream> ClientSession::find_stream(std::uint64_t number) const {
  std::lock_guard lock(mutex_);
  auto it = streams_.find(number);
  return it == streams_.end() ? nullptr : it->second;
}

std::shared_ptr<EventStream> ClientSession::standalone_stream() { return find_stream(0); }

void ClientSession::forget_finished_streams() {
  std::lock_guard lock(mutex_);
  // Keep the most recent finished streams for resumption; bound the rest.
  std::size_t finished = 0;
  for (auto it = streams_.rbegin(); it != streams_.rend(); ++it) {
    if (it->first != 0 && it->second->ended()) ++finished;
  }
  for (auto it = streams_.begin(); it != streams_.end() && finished > 16;) {
    if (it->first != 0 && it->second->ended()) {
      it = streams_.erase(it);
      --finished;
    } else {
      ++it;
    }
  }
}

void ClientSession::push_standalone(const json::object& message) {
  if (stateless()) return;  // the 2026 era has no server-initiated stream
  standalone_stream()->append(json::serialize(message));
}

void ClientSession::upstream_notification(const std::string&, const json::object& notification) {
  auto method = notification.at("method").get_string();
  if (method == "notifications/resources/updated") {
    const auto* params = notification.if_contains("params");
    const auto* uri = params && params->is_object() ? params->get_object().if_contains("uri") : nullptr;
    if (!uri || !uri->is_string() || !subscribed(std::string(uri->get_string()))) return;
  } else if (method == "notifications/message") {
    const auto* params = notification.if_contains("params");
    const auto* level = params && params->is_object() ? params->get_object().if_contains("level") : nullptr;
    if (!level || !level->is_string() || !wants_log(level->get_string())) return;
  }
  push_standalone(notification);
}

}  // namespace bastion::mcp
