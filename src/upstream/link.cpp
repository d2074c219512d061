#include "upstream/link.hpp"

#include <spdlog/spdlog.h>

#include "mcp/jsonrpc.hpp"

namespace bastion::upstream {
namespace {

bool always_broadcast(std::string_view method) {
  // Catalog changes and resource updates concern every client of the upstream, not one call.
  return method == "notifications/tools/list_changed" ||
         method == "notifications/prompts/list_changed" ||
         method == "notifications/resources/list_changed" ||
         method == "notifications/resources/updated";
}

std::string token_key(const json::value& v) { return json::serialize(v); }

// Removes params._meta["bastion/relatedRequestId"] (an id of ours the client must not see) and
// returns it when it names one of our integer request ids.
std::optional<std::int64_t> take_related_request(json::object& message) {
  auto* params = message.if_contains("params");
  if (!params || !params->is_object()) return std::nullopt;
  auto* meta = params->get_object().if_contains("_meta");
  if (!meta || !meta->is_object()) return std::nullopt;
  auto& m = meta->get_object();
  auto it = m.find("bastion/relatedRequestId");
  if (it == m.end()) return std::nullopt;
  std::optional<std::int64_t> id;
  if (it->value().is_int64()) id = it->value().get_int64();
  else if (it->value().is_uint64()) id = static_cast<std::int64_t>(it->value().get_uint64());
  m.erase(it);
  if (m.empty()) params->get_object().erase("_meta");
  return id;
}

}  // namespace

void add_stateless_meta(json::object& request, const json::object& capabilities,
                        const json::object& client_info) {
  auto& params = request["params"];
  if (!params.is_object()) params = json::object{};
  auto& meta = params.get_object()["_meta"];
  if (!meta.is_object()) meta = json::object{};
  auto& m = meta.get_object();
  if (m.contains("io.modelcontextprotocol/protocolVersion")) return;
  m["io.modelcontextprotocol/protocolVersion"] = "2026-07-28";
  m["io.modelcontextprotocol/clientCapabilities"] = capabilities;
  if (!client_info.empty()) m["io.modelcontextprotocol/clientInfo"] = client_info;
}

json::object make_request(std::string_view method, json::object params) {
  json::object out;
  out["jsonrpc"] = "2.0";
  out["id"] = 0;
  out["method"] = method;
  out["params"] = std::move(params);
  return out;
}

json::object link_failure_response(std::int64_t upstream_id, const std::string& reason) {
  return mcp::make_error(json::value(upstream_id), mcp::code::upstream_unavailable,
                         "upstream unavailable: " + reason);
}

Link::Link(boost::asio::any_io_executor ex, std::string upstream_name)
    : ex_(std::move(ex)), name_(std::move(upstream_name)) {}

void Link::set_events(LinkEvents events) {
  std::lock_guard lock(mutex_);
  events_ = std::move(events);
}

std::size_t Link::in_flight() const {
  std::lock_guard lock(mutex_);
  return calls_.size();
}

std::optional<json::object> Link::server_info() const {
  std::lock_guard lock(mutex_);
  return server_info_;
}

void Link::set_server_info(json::object info) {
  std::lock_guard lock(mutex_);
  server_info_ = std::move(info);
}

std::optional<json::object> Link::discover_result() const {
  std::lock_guard lock(mutex_);
  return discover_;
}

bool Link::has_discover_result() const {
  std::lock_guard lock(mutex_);
  return discover_.has_value();
}

std::optional<std::string> Link::negotiated_version() const {
  std::lock_guard lock(mutex_);
  if (!server_info_) return std::nullopt;
  const auto* v = server_info_->if_contains("protocolVersion");
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

void Link::set_discover_result(json::object result) {
  std::lock_guard lock(mutex_);
  discover_ = std::move(result);
}

std::shared_ptr<Call> Link::start_call(json::object request, const void* owner,
                                       const ForwardHeaders& headers) {
  if (!up_) return nullptr;
  auto call = std::make_shared<Call>(ex_);
  call->owner = owner;
  if (auto* m = request.if_contains("method"); m && m->is_string()) call->method = m->get_string();
  if (auto* id = request.if_contains("id")) call->client_id = *id;
  {
    std::lock_guard lock(mutex_);
    call->upstream_id = next_id_++;
    calls_[call->upstream_id] = call;
    // Clients pick progress tokens freely; two may pick the same one, so the link renames them.
    if (auto* params = request.if_contains("params"); params && params->is_object()) {
      if (auto* meta = params->get_object().if_contains("_meta"); meta && meta->is_object()) {
        if (auto* token = meta->get_object().if_contains("progressToken")) {
          call->client_progress_token = *token;
          json::value link_token(json::string("bastion-" + std::to_string(call->upstream_id)));
          progress_tokens_[token_key(link_token)] = call->upstream_id;
          *token = link_token;
        }
      }
    }
  }
  request["id"] = call->upstream_id;
  if (stateless_only_) add_stateless_meta(request, json::object{}, json::object{{"name", "bastion"}, {"version", "0.1.0"}});
  if (!transmit(std::move(request), headers)) {
    finish_call(call);
    return nullptr;
  }
  return call;
}

void Link::finish_call(const std::shared_ptr<Call>& call) {
  std::lock_guard lock(mutex_);
  calls_.erase(call->upstream_id);
  if (call->client_progress_token) {
    progress_tokens_.erase(token_key(json::value("bastion-" + std::to_string(call->upstream_id))));
  }
}

void Link::cancel_call(const std::shared_ptr<Call>& call, std::string_view reason) {
  bool was_in_flight = false;
  {
    std::lock_guard lock(mutex_);
    was_in_flight = calls_.count(call->upstream_id) > 0;
  }
  finish_call(call);
  if (was_in_flight && up_) {
    json::object params{{"requestId", call->upstream_id}, {"reason", reason}};
    transmit(json::object{{"jsonrpc", "2.0"}, {"method", "notifications/cancelled"}, {"params", params}});
  }
}

bool Link::notify(const json::object& notification) { return up_ && transmit(notification); }
bool Link::respond(const json::object& response) { return up_ && transmit(response); }

void Link::route_to(const std::shared_ptr<Call>& call, json::object message) {
  // try_send leaves its arguments untouched when it refuses, so the move is safe.
  if (!call->inbox.try_send(boost::system::error_code{}, std::move(message))) {
    // The caller is slow; queue rather than lose a message (the inbox is drained by its caller).
    call->inbox.async_send(boost::system::error_code{}, std::move(message), [](auto) {});
  }
}

void Link::deliver(json::object message) {
  const bool is_response = !message.contains("method");
  std::shared_ptr<Call> target;
  LinkEvents events;
  {
    std::lock_guard lock(mutex_);
    events = events_;
    if (is_response) {
      auto* id = message.if_contains("id");
      if (id && id->is_int64()) {
        if (auto it = calls_.find(id->get_int64()); it != calls_.end()) target = it->second;
      } else if (id && id->is_uint64()) {
        if (auto it = calls_.find(static_cast<std::int64_t>(id->get_uint64())); it != calls_.end())
          target = it->second;
      }
      if (!target) {
        spdlog::debug("[upstream {}] response to an unknown or abandoned request dropped", name_);
        return;
      }
    } else {
      std::string method(message["method"].get_string());
      const auto related = take_related_request(message);
      if (method == "notifications/progress") {
        auto* params = message.if_contains("params");
        const json::value* token = params && params->is_object() ? params->get_object().if_contains("progressToken") : nullptr;
        if (token) {
          if (auto it = progress_tokens_.find(token_key(*token)); it != progress_tokens_.end()) {
            if (auto c = calls_.find(it->second); c != calls_.end()) target = c->second;
          }
        }
        if (!target) return;  // progress for nothing in flight: meaningless, drop
        params->get_object()["progressToken"] = *target->client_progress_token;
      } else if (related && calls_.count(*related)) {
        // The upstream said which request this belongs to (bastion/relatedRequestId).
        target = calls_.at(*related);
      } else if (!always_broadcast(method) && calls_.size() == 1) {
        // With one call in flight, a log message or server request belongs to it: deliver it on
        // that call's stream, as the upstream would have done over Streamable HTTP.
        target = calls_.begin()->second;
      }
    }
  }
  if (target) {
    route_to(target, std::move(message));
    return;
  }
  if (message.contains("id")) {
    if (events.on_request) events.on_request(std::move(message));
  } else if (events.on_notification) {
    events.on_notification(std::move(message));
  }
}

void Link::mark_down(const std::string& reason) {
  std::map<std::int64_t, std::shared_ptr<Call>> failed;
  LinkEvents events;
  {
    std::lock_guard lock(mutex_);
    if (!up_.exchange(false) && calls_.empty()) return;
    failed.swap(calls_);
    progress_tokens_.clear();
    events = events_;
  }
  for (auto& [id, call] : failed) route_to(call, link_failure_response(id, reason));
  if (events.on_closed) events.on_closed(reason);
}

}  // namespace bastion::upstream
