#include "demo/json_rpc.hpp"

#include <utility>

namespace bastion::demo::jsonrpc {

std::optional<json::value> parse(std::string_view line) {
  json::parse_options options;
  options.max_depth = kMaxDepth;
  std::error_code ec;
  json::value value = json::parse(line, ec, {}, options);
  if (ec) {
    return std::nullopt;
  }
  return value;
}

bool is_valid_id(const json::value& id) {
  // MCP ids are strings or integers; null and fractional numbers are rejected.
  return id.is_string() || id.is_int64() || id.is_uint64();
}

std::string id_key(const json::value& id) { return json::serialize(id); }

Message classify(const json::value& value) {
  const json::object* message = value.if_object();
  if (message == nullptr) {
    return Invalid{nullptr, {kInvalidRequest, "Invalid Request: expected a JSON object", {}}};
  }
  // Echo the id back only when it is one we could legally answer to.
  json::value id = nullptr;
  const json::value* raw_id = message->if_contains("id");
  if (raw_id != nullptr && is_valid_id(*raw_id)) {
    id = *raw_id;
  }
  const json::value* version = message->if_contains("jsonrpc");
  if (version == nullptr || !version->is_string() || version->get_string() != "2.0") {
    return Invalid{id, {kInvalidRequest, "Invalid Request: jsonrpc must be \"2.0\"", {}}};
  }

  const json::value* method = message->if_contains("method");
  if (method == nullptr) {
    const bool has_result = message->contains("result");
    const bool has_error = message->contains("error");
    if (raw_id != nullptr && is_valid_id(*raw_id) && has_result != has_error) {
      return Response{*raw_id, *message};
    }
    return Invalid{id, {kInvalidRequest, "Invalid Request: missing method", {}}};
  }
  if (!method->is_string() || method->get_string().empty()) {
    return Invalid{id, {kInvalidRequest, "Invalid Request: method must be a non-empty string", {}}};
  }

  json::object params;
  const json::value* raw_params = message->if_contains("params");
  const bool params_ok = raw_params == nullptr || raw_params->is_object();
  if (raw_params != nullptr && raw_params->is_object()) {
    params = raw_params->get_object();
  }

  if (raw_id == nullptr) {
    // Notifications with unusable params are dropped by the caller; nobody waits on them.
    return Notification{std::string(method->get_string()), std::move(params)};
  }
  if (!is_valid_id(*raw_id)) {
    return Invalid{nullptr,
                   {kInvalidRequest, "Invalid Request: id must be a string or integer", {}}};
  }
  if (!params_ok) {
    return Invalid{id, {kInvalidParams, "Invalid params: params must be an object", {}}};
  }
  return Request{*raw_id, std::string(method->get_string()), std::move(params)};
}

json::object make_result(const json::value& id, json::object result) {
  json::object out;
  out["jsonrpc"] = "2.0";
  out["id"] = id;
  out["result"] = std::move(result);
  return out;
}

json::object make_error(const json::value& id, const RpcError& error) {
  json::object err;
  err["code"] = error.code;
  err["message"] = error.message;
  if (error.data) {
    err["data"] = *error.data;
  }
  json::object out;
  out["jsonrpc"] = "2.0";
  out["id"] = id;
  out["error"] = std::move(err);
  return out;
}

json::object make_notification(std::string_view method, json::object params) {
  json::object out;
  out["jsonrpc"] = "2.0";
  out["method"] = method;
  out["params"] = std::move(params);
  return out;
}

json::object make_request(const json::value& id, std::string_view method, json::object params) {
  json::object out;
  out["jsonrpc"] = "2.0";
  out["id"] = id;
  out["method"] = method;
  out["params"] = std::move(params);
  return out;
}

}  // namespace bastion::demo::jsonrpc
