#include "mcp/protocol.hpp"

namespace bastion::mcp {

bool is_stateful_version(std::string_view v) {
  for (auto s : stateful_versions) {
    if (s == v) return true;
  }
  return false;
}

bool is_supported_version(std::string_view v) { return v == stateless_version || is_stateful_version(v); }

json::array supported_versions_json() {
  json::array out;
  out.emplace_back(stateless_version);
  for (auto v : stateful_versions) out.emplace_back(v);
  return out;
}

std::optional<std::string_view> meta_protocol_version(const Message& msg) {
  return meta_protocol_version(msg.body);
}

std::optional<std::string_view> meta_protocol_version(const json::object& message) {
  const auto* p = message.if_contains("params");
  const auto* params = p ? p->if_object() : nullptr;
  if (!params) return std::nullopt;
  const auto* m = params->if_contains("_meta");
  if (!m || !m->is_object()) return std::nullopt;
  const auto* v = m->get_object().if_contains(meta::protocol_version);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_string());
}

std::string_view negotiate_stateful_version(std::string_view requested) {
  return is_stateful_version(requested) ? requested : latest_stateful_version;
}

std::optional<std::string_view> target_name(const Message& msg) { return target_name(msg.body); }

std::optional<std::string_view> target_name(const json::object& message) {
  const auto* p = message.if_contains("params");
  const auto* params = p ? p->if_object() : nullptr;
  if (!params) return std::nullopt;
  const auto* m = message.if_contains("method");
  std::string_view method = m && m->is_string() ? std::string_view(m->get_string()) : std::string_view();
  const char* key = nullptr;
  if (method == "tools/call" || method == "prompts/get") key = "name";
  else if (method == "resources/read" || method == "resources/subscribe" ||
           method == "resources/unsubscribe")
    key = "uri";
  if (!key) return std::nullopt;
  const auto* v = params->if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_string());
}

}  // namespace bastion::mcp
