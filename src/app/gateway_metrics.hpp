#pragma once
// The gateway's Prometheus metrics (ARCHITECTURE §8): counters and histograms fed by the request
// path, plus scrape-time callbacks over state other modules already keep (upstreams, limiter,
// rejections, recorder), so nothing on the hot path pushes what can be read when scraped.
#include <string_view>

#include "mcp/server/router.hpp"
#include "observe/metrics.hpp"

namespace bastion::app {

class GatewayMetrics {
 public:
  GatewayMetrics();
  observe::Registry& registry() { return registry_; }
  void count_http(std::string_view listener, unsigned code, double seconds);
  // A reply the HTTP server gave itself before any handler (no duration: nothing was handled).
  void count_refused(std::string_view listener, unsigned code);
  void count_interaction(const mcp::InteractionRecord& record);
  std::string render() const;

 private:
  observe::Registry registry_;
  observe::CounterFamily& http_requests_;
  observe::HistogramFamily& http_duration_;
  observe::CounterFamily& tool_calls_;
  observe::HistogramFamily& tool_duration_;
  observe::CounterFamily& interactions_;
};

}  // namespace bastion::app
