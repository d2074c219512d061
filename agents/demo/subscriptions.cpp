#include "demo/subscriptions.hpp"

#include <algorithm>
#include <utility>

#include "demo/json_rpc.hpp"
#include "demo/protocol.hpp"

namespace bastion::demo {

json::object ListenFilter::to_json() const {
  json::object out;
  if (tools) {
    out["toolsListChanged"] = true;
  }
  if (prompts) {
    out["promptsListChanged"] = true;
  }
  if (resources) {
    out["resourcesListChanged"] = true;
  }
  if (!resource_uris.empty()) {
    json::array uris;
    for (const auto& uri : resource_uris) {
      uris.emplace_back(uri);
    }
    out["resourceSubscriptions"] = std::move(uris);
  }
  return out;
}

Subscriptions::Subscriptions(Send send, SessionOpen session_open)
    : send_(std::move(send)), session_open_(std::move(session_open)) {}

bool Subscriptions::subscribe(const std::string& uri) {
  std::lock_guard lock(mutex_);
  if (!session_uris_.contains(uri) && session_uris_.size() >= kMaxSessionUris) {
    return false;
  }
  session_uris_.insert(uri);
  return true;
}

void Subscriptions::unsubscribe(const std::string& uri) {
  std::lock_guard lock(mutex_);
  session_uris_.erase(uri);
}

bool Subscriptions::listen(const json::value& id, ListenFilter honored) {
  json::object meta;
  meta[protocol::kMetaSubscriptionId] = id;
  json::object params;
  params["notifications"] = honored.to_json();
  params["_meta"] = std::move(meta);
  // The acknowledgement is written while holding the lock and before registration, so no
  // notification of this subscription can overtake it.
  std::lock_guard lock(mutex_);
  if (listeners_.size() >= kMaxListeners) {
    return false;
  }
  send_(jsonrpc::make_notification("notifications/subscriptions/acknowledged", std::move(params)));
  listeners_.emplace(jsonrpc::id_key(id), Listener{id, std::move(honored)});
  return true;
}

bool Subscriptions::stop_listening(const json::value& id) {
  std::lock_guard lock(mutex_);
  return listeners_.erase(jsonrpc::id_key(id)) > 0;
}

void Subscriptions::stop_all() {
  std::lock_guard lock(mutex_);
  listeners_.clear();
}

void Subscriptions::publish(std::string_view method, bool to_session,
                            const std::function<bool(const ListenFilter&)>& wants,
                            const json::object& params) {
  std::vector<json::value> targets;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, listener] : listeners_) {
      if (wants(listener.filter)) {
        targets.push_back(listener.id);
      }
    }
  }
  if (to_session && session_open_()) {
    send_(jsonrpc::make_notification(method, params));
  }
  for (const json::value& id : targets) {
    json::object tagged = params;
    json::object meta;
    meta[protocol::kMetaSubscriptionId] = id;
    tagged["_meta"] = std::move(meta);
    send_(jsonrpc::make_notification(method, std::move(tagged)));
  }
}

void Subscriptions::tools_changed() {
  publish("notifications/tools/list_changed", true, [](const ListenFilter& f) { return f.tools; },
          {});
}

void Subscriptions::prompts_changed() {
  publish("notifications/prompts/list_changed", true,
          [](const ListenFilter& f) { return f.prompts; }, {});
}

void Subscriptions::resources_changed() {
  publish("notifications/resources/list_changed", true,
          [](const ListenFilter& f) { return f.resources; }, {});
}

void Subscriptions::resource_updated(std::string_view uri) {
  bool session_subscribed = false;
  {
    std::lock_guard lock(mutex_);
    session_subscribed = session_uris_.contains(std::string(uri));
  }
  json::object params;
  params["uri"] = uri;
  publish(
      "notifications/resources/updated", session_subscribed,
      [uri](const ListenFilter& f) {
        return std::find(f.resource_uris.begin(), f.resource_uris.end(), uri) !=
               f.resource_uris.end();
      },
      params);
}

}  // namespace bastion::demo
