#include "record/otlp/otlp_json.hpp"

#include <boost/json.hpp>

namespace bastion::record::otlp {

namespace json = boost::json;

namespace {

json::object any_value(const AttributeValue& v) {
  return std::visit(
      [](const auto& x) -> json::object {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) return {{"stringValue", x}};
        else if constexpr (std::is_same_v<T, std::int64_t>) return {{"intValue", std::to_string(x)}};
        else if constexpr (std::is_same_v<T, double>) return {{"doubleValue", x}};
        else return {{"boolValue", x}};
      },
      v);
}

json::array attributes(const Attributes& attrs) {
  json::array out;
  out.reserve(attrs.size());
  for (const auto& [key, value] : attrs) out.push_back(json::object{{"key", key}, {"value", any_value(value)}});
  return out;
}

}  // namespace

std::string export_request_json(const std::vector<Span>& spans, const Resource& resource) {
  json::array span_list;
  span_list.reserve(spans.size());
  for (const auto& s : spans) {
    json::object o;
    o["traceId"] = s.trace_id;
    o["spanId"] = s.span_id;
    if (!s.parent_span_id.empty()) o["parentSpanId"] = s.parent_span_id;
    o["name"] = s.name;
    o["kind"] = static_cast<int>(s.kind);
    o["startTimeUnixNano"] = std::to_string(s.start_unix_nano);
    o["endTimeUnixNano"] = std::to_string(s.end_unix_nano);
    o["attributes"] = attributes(s.attributes);
    json::object status{{"code", static_cast<int>(s.status)}};
    if (!s.status_message.empty()) status["message"] = s.status_message;
    o["status"] = std::move(status);
    span_list.push_back(std::move(o));
  }
  Attributes resource_attrs{{"service.name", resource.service_name}};
  if (!resource.service_version.empty()) resource_attrs.emplace_back("service.version", resource.service_version);
  json::object scope{{"name", "bastion"}};
  if (!resource.service_version.empty()) scope["version"] = resource.service_version;
  json::object scope_spans{{"scope", std::move(scope)}, {"spans", std::move(span_list)}};
  json::object resource_spans{{"resource", json::object{{"attributes", attributes(resource_attrs)}}},
                              {"scopeSpans", json::array{std::move(scope_spans)}}};
  return json::serialize(json::object{{"resourceSpans", json::array{std::move(resource_spans)}}});
}

}  // namespace bastion::record::otlp
