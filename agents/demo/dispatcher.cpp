#include "demo/dispatcher.hpp"

#include <exception>
#include <string>
#include <utility>

#include "demo/call_context.hpp"
#include "demo/diag.hpp"
#include "demo/prompt_catalog.hpp"
#include "demo/resource_catalog.hpp"

namespace bastion::demo {
namespace {

// 2026 caching hints (SEP-2549). Lists change only through the trigger tools, which also
// announce it; discovery is stable for the process lifetime.
constexpr std::int64_t kListTtlMs = 60000;
constexpr std::int64_t kDiscoverTtlMs = 300000;

jsonrpc::RpcError invalid_params(std::string message) {
  return {jsonrpc::kInvalidParams, "Invalid params: " + std::move(message), {}};
}

jsonrpc::RpcError method_not_found(std::string_view method, protocol::Era era) {
  std::string message = "Method not found: " + std::string(method);
  if (era == protocol::Era::stateless) {
    message += " (not part of protocol version 2026-07-28)";
  }
  return {jsonrpc::kMethodNotFound, std::move(message), {}};
}

bool is_list_method(std::string_view method) {
  return method == "tools/list" || method == "prompts/list" || method == "resources/list" ||
         method == "resources/templates/list";
}

void add_cache_hints(json::object& result, std::int64_t ttl_ms) {
  result["ttlMs"] = ttl_ms;
  result["cacheScope"] = "public";  // nothing the agent returns depends on who asks
}

// The agent never paginates, so any cursor is one it did not issue.
std::optional<jsonrpc::RpcError> reject_cursor(const json::object& params) {
  if (params.contains("cursor")) {
    return invalid_params("unknown cursor (this server does not paginate)");
  }
  return std::nullopt;
}

const json::value* string_param(const json::object& params, std::string_view name) {
  const json::value* value = params.if_contains(name);
  return value != nullptr && value->is_string() ? value : nullptr;
}

}  // namespace

Dispatcher::Dispatcher(Session& session, const ToolCatalog& tools)
    : session_(session), tools_(tools) {}

bool Dispatcher::may_block(const jsonrpc::Request& request) const {
  if (request.method == "prompts/get") {
    return true;  // test_input_required_result_prompt asks the client
  }
  if (request.method != "tools/call") {
    return false;
  }
  const json::value* name = request.params.if_contains("name");
  if (name == nullptr || !name->is_string()) {
    return false;  // rejected at once
  }
  const ToolDefinition* tool = tools_.find(name->get_string(), session_.catalog());
  return tool != nullptr && tool->blocking;
}

Dispatcher::Reply Dispatcher::handle(const jsonrpc::Request& request,
                                     const std::shared_ptr<RequestControl>& control) {
  try {
    return dispatch(request, control);
  } catch (const std::exception& error) {
    diag(DiagLevel::error, "handler for " + request.method + " failed: " + error.what());
    return {jsonrpc::make_error(request.id, {jsonrpc::kInternalError, "Internal error", {}}),
            false};
  }
}

Dispatcher::Reply Dispatcher::dispatch(const jsonrpc::Request& request,
                                       const std::shared_ptr<RequestControl>& control) {
  auto read = protocol::read_meta(request.method, request.params);
  if (auto* error = std::get_if<jsonrpc::RpcError>(&read)) {
    return {jsonrpc::make_error(request.id, *error), false};
  }
  Call call{request, control, std::move(std::get<protocol::RequestMeta>(read))};
  const protocol::Era era = call.meta.era;
  bool keep_open = false;
  Outcome outcome;
  if (era == protocol::Era::session) {
    call.meta.capabilities = session_.session_capabilities();
    outcome = session_method(call);
  } else {
    outcome = stateless_method(call, keep_open);
  }

  if (control->cancelled() || std::holds_alternative<NoReply>(outcome)) {
    return {std::nullopt, keep_open};
  }
  if (auto* error = std::get_if<jsonrpc::RpcError>(&outcome)) {
    return {jsonrpc::make_error(request.id, *error), false};
  }
  if (auto* input = std::get_if<InputRequired>(&outcome)) {
    if (era != protocol::Era::stateless) {
      diag(DiagLevel::error, "input_required outside the stateless era");
      return {jsonrpc::make_error(request.id, {jsonrpc::kInternalError, "Internal error", {}}),
              false};
    }
    json::object result;
    result["resultType"] = "input_required";
    result["inputRequests"] = std::move(input->input_requests);
    result["requestState"] = std::move(input->request_state);
    return {jsonrpc::make_result(request.id, std::move(result)), false};
  }
  json::object result = std::move(std::get<json::object>(outcome));
  if (era == protocol::Era::stateless) {
    if (!result.contains("resultType")) {
      result["resultType"] = "complete";
    }
    if (is_list_method(request.method) && !result.contains("ttlMs")) {
      add_cache_hints(result, kListTtlMs);
    }
  }
  return {jsonrpc::make_result(request.id, std::move(result)), false};
}

void Dispatcher::handle(const jsonrpc::Notification& notification) {
  if (notification.method == "notifications/cancelled") {
    const json::value* id = notification.params.if_contains("requestId");
    if (id == nullptr || !jsonrpc::is_valid_id(*id)) {
      return;
    }
    session_.cancel_request(*id);
    // Cancelling a subscriptions/listen request closes that subscription.
    if (session_.subscriptions().stop_listening(*id)) {
      session_.end_request(*id);
    }
    return;
  }
  // notifications/initialized, roots/list_changed, progress...: nothing to do.
  diag(DiagLevel::debug, "notification " + notification.method);
}

Outcome Dispatcher::session_method(Call& call) {
  const std::string& method = call.request.method;
  const json::object& params = call.request.params;
  if (method == "initialize") {
    auto result = session_.initialize(params);
    if (auto* error = std::get_if<jsonrpc::RpcError>(&result)) {
      return *error;
    }
    return std::move(std::get<json::object>(result));
  }
  if (method == "ping") {
    return json::object();
  }
  if (method == "logging/setLevel") {
    const json::value* level = string_param(params, "level");
    const auto parsed =
        level != nullptr ? protocol::parse_log_level(level->get_string()) : std::nullopt;
    if (!parsed) {
      return invalid_params(
          "level must be one of debug, info, notice, warning, error, "
          "critical, alert, emergency");
    }
    session_.set_session_log_level(*parsed);
    return json::object();
  }
  if (method == "resources/subscribe" || method == "resources/unsubscribe") {
    const json::value* uri = string_param(params, "uri");
    if (uri == nullptr) {
      return invalid_params(method + " needs a string uri");
    }
    const std::string target(uri->get_string());
    if (method == "resources/unsubscribe") {
      session_.subscriptions().unsubscribe(target);
      return json::object();
    }
    if (!resource_exists(target, session_.catalog())) {
      json::object data;
      data["uri"] = target;
      return jsonrpc::RpcError{jsonrpc::kResourceNotFound2025, "Resource not found: " + target,
                               json::value(std::move(data))};
    }
    if (!session_.subscriptions().subscribe(target)) {
      return jsonrpc::RpcError{jsonrpc::kServerBusy, "Too many resource subscriptions", {}};
    }
    return json::object();
  }
  bool handled = false;
  Outcome outcome = shared_method(call, handled);
  if (!handled) {
    return method_not_found(method, protocol::Era::session);
  }
  return outcome;
}

Outcome Dispatcher::stateless_method(Call& call, bool& keep_open) {
  const std::string& method = call.request.method;
  if (method == "server/discover") {
    return discover();
  }
  if (method == "subscriptions/listen") {
    Outcome outcome = listen(call);
    keep_open = std::holds_alternative<NoReply>(outcome);
    return outcome;
  }
  bool handled = false;
  Outcome outcome = shared_method(call, handled);
  if (!handled) {
    // Includes the 2025-only methods removed in 2026: initialize, ping, logging/setLevel,
    // resources/subscribe and resources/unsubscribe.
    return method_not_found(method, protocol::Era::stateless);
  }
  return outcome;
}

Outcome Dispatcher::shared_method(Call& call, bool& handled) {
  const std::string& method = call.request.method;
  const json::object& params = call.request.params;
  handled = true;
  if (method == "tools/call") {
    return call_tool(call);
  }
  if (method == "prompts/get") {
    return get_prompt(call);
  }
  if (method == "resources/read") {
    return read_resource(call);
  }
  if (method == "completion/complete") {
    auto result = complete(params);
    if (auto* error = std::get_if<jsonrpc::RpcError>(&result)) {
      return *error;
    }
    return std::move(std::get<json::object>(result));
  }
  if (is_list_method(method)) {
    if (auto error = reject_cursor(params)) {
      return *error;
    }
    json::object result;
    if (method == "tools/list") {
      result["tools"] = tools_.list(session_.catalog());
    } else if (method == "prompts/list") {
      result["prompts"] = list_prompts(session_.catalog());
    } else if (method == "resources/list") {
      result["resources"] = list_resources(session_.catalog());
    } else {
      result["resourceTemplates"] = list_resource_templates();
    }
    return result;
  }
  handled = false;
  return NoReply{};
}

Outcome Dispatcher::call_tool(Call& call) {
  const json::object& params = call.request.params;
  const json::value* name = string_param(params, "name");
  if (name == nullptr) {
    return invalid_params("tools/call needs a string name");
  }
  json::object arguments;
  if (const json::value* given = params.if_contains("arguments")) {
    if (!given->is_object()) {
      return invalid_params("arguments must be an object");
    }
    arguments = given->get_object();
  }
  const std::string tool_name(name->get_string());
  const ToolDefinition* tool = tools_.find(tool_name, session_.catalog());
  if (tool == nullptr) {
    return invalid_params("unknown tool " + tool_name);
  }
  RoundInput round;
  if (call.meta.era == protocol::Era::stateless) {
    auto read =
        read_round_input(session_.state_codec(), params, "tools/call", tool_name, arguments);
    if (auto* error = std::get_if<jsonrpc::RpcError>(&read)) {
      return *error;
    }
    round = std::move(std::get<RoundInput>(read));
  }
  CallContext ctx(session_, call.control, call.request.id, std::move(call.meta), CallKind::tool,
                  "tools/call", tool_name, canonical_digest(arguments), std::move(round));
  return tool->run(ctx, arguments);
}

Outcome Dispatcher::get_prompt(Call& call) {
  const json::object& params = call.request.params;
  const json::value* name = string_param(params, "name");
  if (name == nullptr) {
    return invalid_params("prompts/get needs a string name");
  }
  json::object arguments;
  if (const json::value* given = params.if_contains("arguments")) {
    if (!given->is_object()) {
      return invalid_params("arguments must be an object");
    }
    for (const auto& entry : given->get_object()) {
      if (!entry.value().is_string()) {
        return invalid_params("prompt argument " + std::string(entry.key()) + " must be a string");
      }
    }
    arguments = given->get_object();
  }
  const std::string prompt_name(name->get_string());
  if (!prompt_exists(prompt_name, session_.catalog())) {
    return invalid_params("unknown prompt " + prompt_name);
  }
  RoundInput round;
  if (call.meta.era == protocol::Era::stateless) {
    auto read =
        read_round_input(session_.state_codec(), params, "prompts/get", prompt_name, arguments);
    if (auto* error = std::get_if<jsonrpc::RpcError>(&read)) {
      return *error;
    }
    round = std::move(std::get<RoundInput>(read));
  }
  CallContext ctx(session_, call.control, call.request.id, std::move(call.meta), CallKind::prompt,
                  "prompts/get", prompt_name, canonical_digest(arguments), std::move(round));
  return demo::get_prompt(ctx, prompt_name, arguments);
}

Outcome Dispatcher::read_resource(Call& call) {
  const json::value* uri = string_param(call.request.params, "uri");
  if (uri == nullptr) {
    return invalid_params("resources/read needs a string uri");
  }
  auto read = demo::read_resource(uri->get_string(), session_.catalog(), call.meta.era);
  if (auto* error = std::get_if<jsonrpc::RpcError>(&read)) {
    return *error;
  }
  auto& contents = std::get<ResourceRead>(read);
  if (call.meta.era == protocol::Era::stateless) {
    add_cache_hints(contents.result, contents.ttl_ms);
  }
  return std::move(contents.result);
}

Outcome Dispatcher::discover() {
  json::object tools;
  tools["listChanged"] = true;
  json::object prompts;
  prompts["listChanged"] = true;
  json::object resources;
  resources["subscribe"] = true;
  resources["listChanged"] = true;
  json::object capabilities;
  capabilities["tools"] = std::move(tools);
  capabilities["prompts"] = std::move(prompts);
  capabilities["resources"] = std::move(resources);
  capabilities["logging"] = json::object();
  capabilities["completions"] = json::object();

  json::object meta;
  meta[protocol::kMetaServerInfo] = protocol::server_info();
  json::object result;
  result["supportedVersions"] = protocol::supported_versions();
  result["capabilities"] = std::move(capabilities);
  result["instructions"] =
      "Bastion demo agent: echo, contradict, slow, fail and leak tools plus the MCP conformance "
      "fixtures. Tools that need client input answer with input_required (MRTR).";
  result["_meta"] = std::move(meta);
  add_cache_hints(result, kDiscoverTtlMs);
  return result;
}

Outcome Dispatcher::listen(Call& call) {
  const json::value* requested = call.request.params.if_contains("notifications");
  if (requested == nullptr || !requested->is_object()) {
    return invalid_params("subscriptions/listen needs a notifications filter object");
  }
  const json::object& wanted = requested->get_object();
  const auto flag = [&wanted](std::string_view key) {
    const json::value* value = wanted.if_contains(key);
    return value != nullptr && value->is_bool() && value->get_bool();
  };
  ListenFilter honored;
  honored.tools = flag("toolsListChanged");
  honored.prompts = flag("promptsListChanged");
  honored.resources = flag("resourcesListChanged");
  if (const json::value* uris = wanted.if_contains("resourceSubscriptions")) {
    if (!uris->is_array()) {
      return invalid_params("resourceSubscriptions must be an array of URIs");
    }
    for (const json::value& uri : uris->get_array()) {
      if (!uri.is_string()) {
        return invalid_params("resourceSubscriptions must be an array of URIs");
      }
      // Only resources that exist are honored; the acknowledgement tells the client which.
      if (honored.resource_uris.size() < Subscriptions::kMaxListenUris &&
          resource_exists(uri.get_string(), session_.catalog())) {
        honored.resource_uris.emplace_back(uri.get_string());
      }
    }
  }
  if (!session_.subscriptions().listen(call.request.id, std::move(honored))) {
    return jsonrpc::RpcError{jsonrpc::kServerBusy, "Too many open subscriptions", {}};
  }
  return NoReply{};  // the stream stays open until notifications/cancelled
}

}  // namespace bastion::demo
