#pragma once
// OTLP/HTTP trace payloads in the JSON encoding (opentelemetry-proto's ExportTraceServiceRequest
// as protobuf JSON): ids as lower-case hex, 64-bit integers as decimal strings, enums as numbers.
// Pure logic.
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace bastion::record::otlp {

using AttributeValue = std::variant<std::string, std::int64_t, double, bool>;
using Attributes = std::vector<std::pair<std::string, AttributeValue>>;

enum class SpanKind : int { internal = 1, server = 2, client = 3 };
enum class StatusCode : int { unset = 0, ok = 1, error = 2 };

struct Span {
  std::string trace_id;        // 32 hex
  std::string span_id;         // 16 hex
  std::string parent_span_id;  // "" for a root
  std::string name;
  SpanKind kind = SpanKind::server;
  std::uint64_t start_unix_nano = 0;
  std::uint64_t end_unix_nano = 0;
  Attributes attributes;
  StatusCode status = StatusCode::unset;
  std::string status_message;
};

struct Resource {
  std::string service_name = "bastion";
  std::string service_version;
};

// One ExportTraceServiceRequest with every span under one resource and the "bastion" scope.
std::string export_request_json(const std::vector<Span>& spans, const Resource& resource);

}  // namespace bastion::record::otlp
