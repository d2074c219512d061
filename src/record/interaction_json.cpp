#include "record/interaction_json.hpp"

#include <boost/json.hpp>

#include "record/time_format.hpp"

namespace bastion::record {
namespace json = boost::json;
namespace {

void put(json::object& o, std::string_view key, const std::optional<std::string>& v) {
  if (v) o[key] = *v;
}
void put(json::object& o, std::string_view key, const std::optional<double>& v) {
  if (v) o[key] = *v;
}
void put(json::object& o, std::string_view key, const std::optional<std::int64_t>& v) {
  if (v) o[key] = *v;
}

struct Reader {
  const json::object& o;
  bool ok = true;

  const json::value* find(std::string_view key) {
    auto it = o.find(key);
    return it == o.end() || it->value().is_null() ? nullptr : &it->value();
  }
  void get(std::string_view key, std::string& out) {
    if (const auto* v = find(key); v && v->is_string())
      out = std::string(v->get_string());
    else
      ok = false;
  }
  void get(std::string_view key, std::optional<std::string>& out) {
    if (const auto* v = find(key)) {
      if (v->is_string())
        out = std::string(v->get_string());
      else
        ok = false;
    }
  }
  std::optional<double> number(const json::value& v) {
    if (v.is_double()) return v.get_double();
    if (v.is_int64()) return static_cast<double>(v.get_int64());
    if (v.is_uint64()) return static_cast<double>(v.get_uint64());
    return std::nullopt;
  }
  void get(std::string_view key, double& out) {
    const auto* v = find(key);
    auto n = v ? number(*v) : std::nullopt;
    if (n)
      out = *n;
    else
      ok = false;
  }
  void get(std::string_view key, std::optional<double>& out) {
    if (const auto* v = find(key)) {
      if (auto n = number(*v))
        out = *n;
      else
        ok = false;
    }
  }
  void get(std::string_view key, std::int64_t& out) {
    if (const auto* v = find(key); v && v->is_int64())
      out = v->get_int64();
    else if (v && v->is_uint64() && v->get_uint64() <= INT64_MAX)
      out = static_cast<std::int64_t>(v->get_uint64());
    else
      ok = false;
  }
  void get(std::string_view key, std::optional<std::int64_t>& out) {
    if (find(key)) {
      std::int64_t i = 0;
      get(key, i);
      out = i;
    }
  }
  void get(std::string_view key, bool& out) {
    if (const auto* v = find(key); v && v->is_bool())
      out = v->get_bool();
    else
      ok = false;
  }
};

}  // namespace

json::object interaction_to_json(const Interaction& r) {
  json::object o;
  o["id"] = r.id;
  o["timestamp"] = format_timestamp(r.timestamp);
  o["agent_type"] = r.agent_type;
  put(o, "tool", r.tool);
  o["method"] = r.method;
  o["client"] = r.client;
  put(o, "session_hash", r.session_hash);
  put(o, "input_hash", r.input_hash);
  put(o, "output_hash", r.output_hash);
  o["status"] = r.status;
  put(o, "error_code", r.error_code);
  put(o, "error_message", r.error_message);
  put(o, "output_quality", r.output_quality);
  put(o, "precision_score", r.precision_score);
  put(o, "agent_confidence", r.agent_confidence);
  o["contradiction_applied"] = r.contradiction_applied;
  o["contradiction_level"] = r.contradiction_level;
  o["latency_ms"] = r.latency_ms;
  o["latency_bucket"] = r.latency_bucket;
  o["request_bytes"] = r.request_bytes;
  o["response_bytes"] = r.response_bytes;
  put(o, "trace_id", r.trace_id);
  put(o, "input", r.input);
  put(o, "output", r.output);
  return o;
}

std::optional<Interaction> interaction_from_json(const json::value& value) {
  const auto* obj = value.if_object();
  if (!obj) return std::nullopt;
  Reader in{*obj};
  Interaction r;
  in.get("id", r.id);
  std::string ts;
  in.get("timestamp", ts);
  if (auto t = parse_timestamp(ts))
    r.timestamp = *t;
  else
    in.ok = false;
  in.get("agent_type", r.agent_type);
  in.get("tool", r.tool);
  in.get("method", r.method);
  in.get("client", r.client);
  in.get("session_hash", r.session_hash);
  in.get("input_hash", r.input_hash);
  in.get("output_hash", r.output_hash);
  in.get("status", r.status);
  in.get("error_code", r.error_code);
  in.get("error_message", r.error_message);
  in.get("output_quality", r.output_quality);
  in.get("precision_score", r.precision_score);
  in.get("agent_confidence", r.agent_confidence);
  in.get("contradiction_applied", r.contradiction_applied);
  in.get("contradiction_level", r.contradiction_level);
  in.get("latency_ms", r.latency_ms);
  in.get("latency_bucket", r.latency_bucket);
  in.get("request_bytes", r.request_bytes);
  in.get("response_bytes", r.response_bytes);
  in.get("trace_id", r.trace_id);
  in.get("input", r.input);
  in.get("output", r.output);
  if (!in.ok) return std::nullopt;
  return r;
}

}  // namespace bastion::record
