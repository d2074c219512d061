#include "app/gateway_metrics.hpp"

#include "observe/process_metrics.hpp"
#include "observe/prometheus_text.hpp"

namespace bastion::app {

GatewayMetrics::GatewayMetrics()
    : http_requests_(registry_.counter("bastion_http_requests_total", "HTTP requests answered, by listener and status code.",
                                       {"listener", "code"})),
      http_duration_(registry_.histogram("bastion_http_request_duration_seconds",
                                         "Time from request read to response handed to the socket (SSE: stream end).",
                                         {"listener"})),
      tool_calls_(registry_.counter("bastion_tool_calls_total", "tools/call requests by upstream, tool and outcome.",
                                    {"upstream", "tool", "status"})),
      tool_duration_(registry_.histogram("bastion_tool_call_duration_seconds", "tools/call latency through Bastion.",
                                         {"upstream", "tool"})),
      interactions_(registry_.counter("bastion_mcp_requests_total", "MCP requests handled, by method and outcome.",
                                      {"method", "status"})) {
  observe::register_process_metrics(registry_);
}

void GatewayMetrics::count_http(std::string_view listener, unsigned code, double seconds) {
  http_requests_.labels({listener, std::to_string(code)}).inc();
  http_duration_.labels({listener}).observe(seconds);
}

void GatewayMetrics::count_refused(std::string_view listener, unsigned code) {
  http_requests_.labels({listener, std::to_string(code)}).inc();
}

void GatewayMetrics::count_interaction(const mcp::InteractionRecord& r) {
  const std::string_view status = r.status.empty() ? std::string_view("ok") : std::string_view(r.status);
  // Method names come from clients: only the protocol's own are labels, the rest is "other".
  static const std::array<std::string_view, 16> known{
      "initialize", "ping", "tools/list", "tools/call", "prompts/list", "prompts/get", "resources/list",
      "resources/read", "resources/templates/list", "resources/subscribe", "resources/unsubscribe",
      "completion/complete", "logging/setLevel", "server/discover", "subscriptions/listen", "tasks/get"};
  std::string_view method = "other";
  for (auto k : known) {
    if (r.method == k) method = k;
  }
  interactions_.labels({method, status}).inc();
  if (r.method != "tools/call") return;
  tool_calls_.labels({r.upstream, r.tool, status}).inc();
  tool_duration_.labels({r.upstream, r.tool}).observe(r.latency_ms / 1000.0);
}

std::string GatewayMetrics::render() const { return observe::render(registry_); }

}  // namespace bastion::app
