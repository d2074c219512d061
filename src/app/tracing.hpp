#pragma once
// Interaction spans for OpenTelemetry (telemetry.otlp_endpoint): the exporter's set-up, and one
// span per MCP request named and attributed after the OpenTelemetry MCP / GenAI conventions
// (mcp.method.name, gen_ai.tool.name, gen_ai.operation.name, mcp.session.id, error.type,
// rpc.response.status_code) plus Bastion's tags as bastion.* attributes.
#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>
#include <variant>

#include "core/config.hpp"
#include "mcp/server/router.hpp"
#include "record/interaction.hpp"
#include "record/otlp/otlp_exporter.hpp"

namespace bastion::app {

// The exporter for config.telemetry (headers from its headers_file, a secret), not yet started.
std::variant<std::shared_ptr<record::otlp::OtlpExporter>, std::string> make_trace_exporter(
    const core::TelemetryConfig& telemetry, boost::asio::any_io_executor ex);

// `r` carries Bastion's span ids (set by the router), `row` its tags and hashes.
record::otlp::Span span_of(const mcp::InteractionRecord& r, const record::Interaction& row);

}  // namespace bastion::app
