#include "app/tracing.hpp"

#include "core/secrets.hpp"
#include "upstream/http_link.hpp"

namespace bastion::app {

namespace otlp = record::otlp;

std::variant<std::shared_ptr<otlp::OtlpExporter>, std::string> make_trace_exporter(
    const core::TelemetryConfig& telemetry, boost::asio::any_io_executor ex) {
  otlp::ExporterOptions options;
  options.endpoint = telemetry.otlp_endpoint;
  options.resource.service_name = telemetry.service_name;
  options.resource.service_version = "0.1.0";
  if (auto path = core::secret_file_path(telemetry.headers_file, "TELEMETRY_HEADERS")) {
    std::string error;
    auto headers = upstream::read_headers_file(*path, error);
    if (!headers) return "telemetry.headers_file: " + error;
    options.headers = std::move(*headers);
  }
  std::string error;
  auto exporter = otlp::OtlpExporter::create(std::move(ex), std::move(options), error);
  if (!exporter) return error;
  return exporter;
}

otlp::Span span_of(const mcp::InteractionRecord& r, const record::Interaction& row) {
  otlp::Span s;
  s.trace_id = r.trace_id;
  s.span_id = r.span_id;
  s.parent_span_id = r.parent_span_id;
  // "{mcp.method.name} {target}", the target being the tool when there is one.
  s.name = r.tool.empty() ? r.method : r.method + " " + r.tool;
  s.kind = otlp::SpanKind::server;
  const auto start = std::chrono::duration_cast<std::chrono::nanoseconds>(r.timestamp.time_since_epoch()).count();
  s.start_unix_nano = static_cast<std::uint64_t>(start);
  s.end_unix_nano = s.start_unix_nano + static_cast<std::uint64_t>(std::max(0.0, r.latency_ms) * 1e6);
  auto& a = s.attributes;
  a.emplace_back("mcp.method.name", r.method);
  if (!r.tool.empty()) {
    a.emplace_back("gen_ai.tool.name", r.tool);
    a.emplace_back("gen_ai.operation.name", std::string("execute_tool"));
  }
  // The session id is a bearer secret for the client: spans carry its hash, as the store does.
  if (row.session_hash) a.emplace_back("mcp.session.id", *row.session_hash);
  if (row.status != "ok") {
    a.emplace_back("error.type", row.error_code ? std::to_string(*row.error_code) : row.status);
    s.status = otlp::StatusCode::error;
    s.status_message = row.error_message ? row.error_message->substr(0, 256) : row.status;
  }
  if (row.error_code) a.emplace_back("rpc.response.status_code", std::to_string(*row.error_code));
  a.emplace_back("bastion.agent_type", row.agent_type);
  a.emplace_back("bastion.client", row.client);
  a.emplace_back("bastion.status", row.status);
  a.emplace_back("bastion.latency_ms", row.latency_ms);
  a.emplace_back("bastion.latency_bucket", row.latency_bucket);
  a.emplace_back("bastion.request_bytes", row.request_bytes);
  a.emplace_back("bastion.response_bytes", row.response_bytes);
  if (row.input_hash) a.emplace_back("bastion.input_hash", *row.input_hash);
  if (row.output_hash) a.emplace_back("bastion.output_hash", *row.output_hash);
  if (row.output_quality) a.emplace_back("bastion.output_quality", *row.output_quality);
  if (row.precision_score) a.emplace_back("bastion.precision_score", *row.precision_score);
  if (row.agent_confidence) a.emplace_back("bastion.agent_confidence", *row.agent_confidence);
  a.emplace_back("bastion.contradiction_applied", row.contradiction_applied);
  a.emplace_back("bastion.contradiction_level", row.contradiction_level);
  a.emplace_back("bastion.interaction_id", row.id);
  return s;
}

}  // namespace bastion::app
