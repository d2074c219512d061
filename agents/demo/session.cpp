#include "demo/session.hpp"

#include <cstdint>
#include <utility>

#include "demo/diag.hpp"

namespace bastion::demo {

void RequestControl::cancel() {
  {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
  }
  cv_.notify_all();
}

bool RequestControl::cancelled() const {
  std::lock_guard lock(mutex_);
  return cancelled_;
}

bool RequestControl::sleep_for(std::chrono::milliseconds duration) {
  std::unique_lock lock(mutex_);
  return !cv_.wait_for(lock, duration, [this] { return cancelled_; });
}

void RequestControl::deliver(json::object reply) {
  {
    std::lock_guard lock(mutex_);
    reply_ = std::move(reply);
  }
  cv_.notify_all();
}

void RequestControl::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  cv_.notify_all();
}

void RequestControl::clear_reply() {
  std::lock_guard lock(mutex_);
  reply_.reset();
}

RequestControl::Wait RequestControl::await_reply(std::chrono::steady_clock::time_point deadline,
                                                 json::object& reply) {
  std::unique_lock lock(mutex_);
  cv_.wait_until(lock, deadline, [this] { return cancelled_ || closed_ || reply_.has_value(); });
  if (reply_) {
    reply = std::move(*reply_);
    reply_.reset();
    return Wait::reply;
  }
  if (cancelled_) {
    return Wait::cancelled;
  }
  if (closed_) {
    return Wait::closed;
  }
  return Wait::timeout;
}

Session::Session(MessageWriter& writer, SessionOptions options)
    : writer_(writer),
      options_(options),
      codec_(RequestStateCodec::with_random_key(options.state_max_age)),
      subscriptions_([this](const json::object& message) { send(message); },
                     [this] { return initialized(); }) {}

void Session::send(const json::object& message) {
  if (!writer_.write(message)) {
    diag(DiagLevel::debug, "stdout is closed; message dropped");
  }
}

void Session::send(const json::array& batch) {
  if (!writer_.write(batch)) {
    diag(DiagLevel::debug, "stdout is closed; batch reply dropped");
  }
}

void Session::notify(std::string_view method, json::object params) {
  send(jsonrpc::make_notification(method, std::move(params)));
}

std::variant<json::object, jsonrpc::RpcError> Session::initialize(const json::object& params) {
  const json::value* version = params.if_contains("protocolVersion");
  if (version == nullptr || !version->is_string()) {
    return jsonrpc::RpcError{
        jsonrpc::kInvalidParams, "Invalid params: initialize requires protocolVersion", {}};
  }
  json::object declared;
  if (const json::value* caps = params.if_contains("capabilities"); caps && caps->is_object()) {
    declared = caps->get_object();
  }
  {
    std::lock_guard lock(mutex_);
    initialized_ = true;
    capabilities_ = protocol::ClientCapabilities(std::move(declared));
    log_level_ = protocol::LogLevel::info;
  }

  json::object tools;
  tools["listChanged"] = true;
  json::object resources;
  resources["subscribe"] = true;
  resources["listChanged"] = true;
  json::object prompts;
  prompts["listChanged"] = true;
  json::object capabilities;
  capabilities["tools"] = std::move(tools);
  capabilities["resources"] = std::move(resources);
  capabilities["prompts"] = std::move(prompts);
  capabilities["logging"] = json::object();
  capabilities["completions"] = json::object();

  json::object result;
  result["protocolVersion"] = protocol::negotiate_session_version(version);
  result["capabilities"] = std::move(capabilities);
  result["serverInfo"] = protocol::server_info();
  result["instructions"] =
      "Bastion demo agent: echo, contradict, slow, fail and leak tools plus the MCP conformance "
      "fixtures (test_* tools, test:// resources, test_* prompts).";
  return result;
}

bool Session::initialized() const {
  std::lock_guard lock(mutex_);
  return initialized_;
}

protocol::ClientCapabilities Session::session_capabilities() const {
  std::lock_guard lock(mutex_);
  return capabilities_;
}

protocol::LogLevel Session::session_log_level() const {
  std::lock_guard lock(mutex_);
  return log_level_;
}

void Session::set_session_log_level(protocol::LogLevel level) {
  std::lock_guard lock(mutex_);
  log_level_ = level;
}

std::pair<Session::Begin, std::shared_ptr<RequestControl>> Session::begin_request(
    const json::value& id) {
  std::lock_guard lock(mutex_);
  const std::string key = jsonrpc::id_key(id);
  if (in_flight_.contains(key)) {
    return {Begin::duplicate, nullptr};
  }
  if (in_flight_.size() >= options_.max_in_flight) {
    return {Begin::busy, nullptr};
  }
  auto control = std::make_shared<RequestControl>();
  in_flight_.emplace(key, control);
  return {Begin::ok, control};
}

void Session::end_request(const json::value& id) {
  std::lock_guard lock(mutex_);
  in_flight_.erase(jsonrpc::id_key(id));
}

void Session::cancel_request(const json::value& id) {
  std::shared_ptr<RequestControl> control;
  {
    std::lock_guard lock(mutex_);
    const auto it = in_flight_.find(jsonrpc::id_key(id));
    if (it == in_flight_.end()) {
      return;  // already answered, or never seen: cancellation is advisory
    }
    control = it->second;
  }
  diag(DiagLevel::info, "request " + jsonrpc::id_key(id) + " cancelled by the client");
  control->cancel();
}

void Session::cancel_all() {
  std::lock_guard lock(mutex_);
  for (auto& [key, control] : in_flight_) {
    control->cancel();
  }
}

Session::AskResult Session::ask_client(const std::shared_ptr<RequestControl>& control,
                                       std::string_view method, json::object params) {
  if (!control->may_wait()) {
    diag(DiagLevel::error, "a handler running on the reader thread tried to wait for the client");
    return {AskStatus::closed, {}};
  }
  std::int64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    if (input_closed_) {
      return {AskStatus::closed, {}};
    }
    id = next_outbound_id_++;
    outbound_.emplace(id, control);
  }
  send(jsonrpc::make_request(id, method, std::move(params)));

  json::object reply;
  const auto waited =
      control->await_reply(std::chrono::steady_clock::now() + options_.input_timeout, reply);
  {
    // After this erase no late reply can reach the mailbox; drop one that raced in.
    std::lock_guard lock(mutex_);
    outbound_.erase(id);
  }
  control->clear_reply();

  switch (waited) {
    case RequestControl::Wait::reply:
      return {reply.contains("error") ? AskStatus::client_error : AskStatus::answered,
              std::move(reply)};
    case RequestControl::Wait::closed:
      return {AskStatus::closed, {}};
    case RequestControl::Wait::cancelled:
    case RequestControl::Wait::timeout: {
      json::object cancel;
      cancel["requestId"] = id;
      cancel["reason"] = waited == RequestControl::Wait::timeout
                             ? "bastion-demo-agent stopped waiting for the answer"
                             : "the request that needed this answer was cancelled";
      notify("notifications/cancelled", std::move(cancel));
      return {waited == RequestControl::Wait::timeout ? AskStatus::timeout : AskStatus::cancelled,
              {}};
    }
  }
  return {AskStatus::closed, {}};
}

void Session::deliver_reply(const jsonrpc::Response& response) {
  std::lock_guard lock(mutex_);
  const json::value& id = response.id;
  std::shared_ptr<RequestControl> control;
  if (id.is_int64()) {
    if (const auto it = outbound_.find(id.get_int64()); it != outbound_.end()) {
      control = it->second.lock();
    }
  } else if (id.is_uint64() && id.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    if (const auto it = outbound_.find(static_cast<std::int64_t>(id.get_uint64()));
        it != outbound_.end()) {
      control = it->second.lock();
    }
  }
  if (!control) {
    diag(DiagLevel::info, "reply for an unknown or expired request id " + json::serialize(id));
    return;
  }
  // Delivered under mutex_ so a waiter that already erased its id never sees this reply.
  control->deliver(response.message);
}

void Session::close_input() {
  std::lock_guard lock(mutex_);
  input_closed_ = true;
  for (auto& [id, weak] : outbound_) {
    if (auto control = weak.lock()) {
      control->close();
    }
  }
}

}  // namespace bastion::demo
