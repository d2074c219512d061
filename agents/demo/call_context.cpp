#include "demo/call_context.hpp"

#include <algorithm>
#include <atomic>
#include <utility>
#include <vector>

#include "demo/content.hpp"
#include "demo/digest.hpp"
#include "demo/encoding.hpp"

namespace bastion::demo {
namespace {

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void write_canonical(const json::value& value, std::string& out) {
  if (const json::object* object = value.if_object()) {
    std::vector<std::string_view> keys;
    keys.reserve(object->size());
    for (const auto& entry : *object) {
      keys.push_back(entry.key());
    }
    std::sort(keys.begin(), keys.end());
    out += '{';
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (i > 0) {
        out += ',';
      }
      out += json::serialize(json::value(keys[i]));
      out += ':';
      write_canonical(object->at(keys[i]), out);
    }
    out += '}';
    return;
  }
  if (const json::array* array = value.if_array()) {
    out += '[';
    for (std::size_t i = 0; i < array->size(); ++i) {
      if (i > 0) {
        out += ',';
      }
      write_canonical((*array)[i], out);
    }
    out += ']';
    return;
  }
  out += json::serialize(value);
}

std::string_view capability_for(std::string_view method) {
  if (method == "elicitation/create") {
    return "elicitation";
  }
  if (method == "sampling/createMessage") {
    return "sampling";
  }
  return "roots";
}

// Shape checks for the three answer types (ElicitResult, CreateMessageResult, ListRootsResult).
std::optional<std::string> validate_answer(std::string_view method, const json::value& answer) {
  const json::object* object = answer.if_object();
  if (object == nullptr) {
    return "must be an object";
  }
  if (method == "elicitation/create") {
    const json::value* action = object->if_contains("action");
    if (action == nullptr || !action->is_string() ||
        (action->get_string() != "accept" && action->get_string() != "decline" &&
         action->get_string() != "cancel")) {
      return "is not an ElicitResult (action must be accept, decline or cancel)";
    }
    if (const json::value* values = object->if_contains("content");
        values != nullptr && !values->is_object()) {
      return "is not an ElicitResult (content must be an object)";
    }
    return std::nullopt;
  }
  if (method == "sampling/createMessage") {
    const json::value* role = object->if_contains("role");
    const json::value* model = object->if_contains("model");
    const json::value* body = object->if_contains("content");
    if (role == nullptr || !role->is_string() || model == nullptr || !model->is_string() ||
        body == nullptr || !(body->is_object() || body->is_array())) {
      return "is not a CreateMessageResult (role, model and content are required)";
    }
    return std::nullopt;
  }
  const json::value* roots = object->if_contains("roots");
  if (roots == nullptr || !roots->is_array()) {
    return "is not a ListRootsResult (roots must be an array)";
  }
  for (const json::value& root : roots->get_array()) {
    const json::value* uri = root.is_object() ? root.get_object().if_contains("uri") : nullptr;
    if (uri == nullptr || !uri->is_string()) {
      return "is not a ListRootsResult (every root needs a uri)";
    }
  }
  return std::nullopt;
}

jsonrpc::RpcError invalid_params(std::string message) {
  return {jsonrpc::kInvalidParams, "Invalid params: " + message, {}};
}

std::atomic<std::int64_t> g_state_sequence{0};

}  // namespace

std::string canonical_digest(const json::value& value) {
  std::string text;
  write_canonical(value, text);
  return to_hex(sha256(text));
}

std::variant<RoundInput, jsonrpc::RpcError> read_round_input(const RequestStateCodec& codec,
                                                             const json::object& params,
                                                             std::string_view method,
                                                             std::string_view target,
                                                             const json::object& arguments) {
  RoundInput round;
  if (const json::value* responses = params.if_contains("inputResponses")) {
    if (!responses->is_object()) {
      return invalid_params("inputResponses must be an object");
    }
    round.responses = responses->get_object();
  }
  const json::value* state = params.if_contains("requestState");
  if (state == nullptr) {
    return round;
  }
  if (!state->is_string()) {
    return invalid_params("requestState must be a string");
  }
  auto opened = codec.open(state->get_string(), now_unix());
  if (auto* error = std::get_if<StateError>(&opened)) {
    json::object data;
    data["reason"] = error->reason;
    return jsonrpc::RpcError{jsonrpc::kInvalidParams, "Invalid params: " + error->reason,
                             json::value(std::move(data))};
  }
  json::object& payload = std::get<json::object>(opened);
  const auto field_is = [&payload](std::string_view key, std::string_view expected) {
    const json::value* field = payload.if_contains(key);
    return field != nullptr && field->is_string() && field->get_string() == expected;
  };
  if (!field_is("m", method) || !field_is("n", target) ||
      !field_is("a", canonical_digest(arguments))) {
    return invalid_params("requestState was issued for a different request");
  }
  if (json::value* carried = payload.if_contains("r"); carried != nullptr && carried->is_object()) {
    round.carried = std::move(carried->get_object());
  }
  round.state_verified = true;
  return round;
}

CallContext::CallContext(Session& session, std::shared_ptr<RequestControl> control,
                         json::value request_id, protocol::RequestMeta meta, CallKind kind,
                         std::string method, std::string target, std::string arguments_digest,
                         RoundInput round)
    : session_(session),
      control_(std::move(control)),
      request_id_(std::move(request_id)),
      meta_(std::move(meta)),
      kind_(kind),
      method_(std::move(method)),
      target_(std::move(target)),
      arguments_digest_(std::move(arguments_digest)),
      round_(std::move(round)) {}

bool CallContext::client_supports(std::string_view capability) const {
  return meta_.capabilities.has(capability);
}

bool CallContext::cancelled() const { return cancelled_ || control_->cancelled(); }

bool CallContext::sleep_for(std::chrono::milliseconds duration) {
  return control_->sleep_for(duration);
}

json::object CallContext::notification_meta() const {
  json::object meta;
  meta[protocol::kMetaRelatedRequest] = request_id_;
  return meta;
}

void CallContext::progress(double done, double total, std::string_view message) {
  if (!meta_.progress_token) {
    return;
  }
  json::object params;
  params["progressToken"] = *meta_.progress_token;
  params["progress"] = done;
  params["total"] = total;
  params["message"] = message;
  params["_meta"] = notification_meta();
  session_.notify("notifications/progress", std::move(params));
}

void CallContext::log(protocol::LogLevel level, json::value data) {
  // Session era: the level set with logging/setLevel. Stateless era: only when the request
  // opted in through _meta logLevel.
  const std::optional<protocol::LogLevel> threshold =
      meta_.era == protocol::Era::session ? std::optional(session_.session_log_level())
                                          : meta_.log_level;
  if (!threshold || level < *threshold) {
    return;
  }
  json::object params;
  params["level"] = protocol::to_string(level);
  params["logger"] = protocol::kServerName;
  params["data"] = std::move(data);
  params["_meta"] = notification_meta();
  session_.notify("notifications/message", std::move(params));
}

std::optional<json::object> CallContext::ask(std::string_view key, json::object input_request) {
  if (failure_ || cancelled_) {
    return std::nullopt;
  }
  const std::string method(input_request.at("method").as_string());
  const std::string_view capability = capability_for(method);
  if (!meta_.capabilities.has(capability)) {
    failure_ = InputFailure{InputFailure::Kind::missing_capability, std::string(capability),
                            "the client did not declare the " + std::string(capability) +
                                " capability, which " + target_ + " needs"};
    return std::nullopt;
  }
  if (meta_.era == protocol::Era::session) {
    json::object params;
    if (json::value* given = input_request.if_contains("params"); given && given->is_object()) {
      params = std::move(given->get_object());
    }
    return ask_client(method, std::move(params));
  }

  // Stateless: answers sealed in the verified state win over what the client resends.
  const json::value* answer = round_.carried.if_contains(key);
  if (answer == nullptr && (!require_state_ || round_.state_verified)) {
    answer = round_.responses.if_contains(key);
  }
  if (answer == nullptr) {
    pending_[key] = std::move(input_request);
    return std::nullopt;
  }
  if (auto problem = validate_answer(method, *answer)) {
    failure_ = InputFailure{InputFailure::Kind::invalid_answer, std::string(capability),
                            "inputResponses." + std::string(key) + " " + *problem};
    return std::nullopt;
  }
  consumed_[key] = *answer;
  return answer->get_object();
}

std::optional<json::object> CallContext::ask_client(std::string_view method, json::object params) {
  Session::AskResult asked = session_.ask_client(control_, method, std::move(params));
  switch (asked.status) {
    case Session::AskStatus::answered: {
      json::value* result = asked.reply.if_contains("result");
      if (result == nullptr) {
        break;
      }
      if (auto problem = validate_answer(method, *result)) {
        failure_ =
            InputFailure{InputFailure::Kind::invalid_answer, std::string(capability_for(method)),
                         "the client's answer to " + std::string(method) + " " + *problem};
        return std::nullopt;
      }
      return std::move(result->get_object());
    }
    case Session::AskStatus::client_error: {
      std::string detail = "an error";
      if (const json::value* error = asked.reply.if_contains("error");
          error && error->is_object()) {
        detail = json::serialize(*error);
      }
      failure_ = InputFailure{InputFailure::Kind::client_error, std::string(capability_for(method)),
                              "the client answered " + std::string(method) + " with " + detail};
      return std::nullopt;
    }
    case Session::AskStatus::timeout:
      failure_ = InputFailure{InputFailure::Kind::unavailable, std::string(capability_for(method)),
                              "the client did not answer " + std::string(method) + " in time"};
      return std::nullopt;
    case Session::AskStatus::cancelled:
      cancelled_ = true;
      return std::nullopt;
    case Session::AskStatus::closed:
      break;
  }
  failure_ = InputFailure{InputFailure::Kind::unavailable, std::string(capability_for(method)),
                          "the client can no longer answer " + std::string(method)};
  return std::nullopt;
}

Outcome CallContext::failure_outcome(const InputFailure& failure) const {
  if (meta_.era == protocol::Era::stateless) {
    if (failure.kind == InputFailure::Kind::missing_capability) {
      json::object required;
      required[failure.capability] = json::object();
      json::object data;
      data["requiredCapabilities"] = std::move(required);
      return jsonrpc::RpcError{jsonrpc::kMissingClientCapability,
                               "Missing required client capability: " + failure.message,
                               json::value(std::move(data))};
    }
    return invalid_params(failure.message);
  }
  if (kind_ == CallKind::tool) {
    return content::tool_error("Cannot complete " + target_ + ": " + failure.message);
  }
  const bool callers_fault = failure.kind == InputFailure::Kind::missing_capability ||
                             failure.kind == InputFailure::Kind::invalid_answer;
  return jsonrpc::RpcError{callers_fault ? jsonrpc::kInvalidParams : jsonrpc::kInternalError,
                           "Cannot complete " + target_ + ": " + failure.message,
                           {}};
}

std::optional<Outcome> CallContext::input_stop() {
  if (cancelled()) {
    return Outcome{NoReply{}};
  }
  if (failure_) {
    return failure_outcome(*failure_);
  }
  if (pending_.empty()) {
    return std::nullopt;
  }
  json::object payload;
  payload["m"] = method_;
  payload["n"] = target_;
  payload["a"] = arguments_digest_;
  payload["r"] = consumed_;
  payload["s"] = ++g_state_sequence;  // every state distinct, even within one second
  return Outcome{
      InputRequired{pending_, session_.state_codec().seal(std::move(payload), now_unix())}};
}

}  // namespace bastion::demo
