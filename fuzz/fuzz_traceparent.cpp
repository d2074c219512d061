// W3C traceparent from params._meta: parse, and a parsed value must survive a round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mcp/trace_context.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parent = bastion::mcp::parse_traceparent(text);
  if (!parent) return 0;
  auto child = bastion::mcp::start_span(parent);
  auto again = bastion::mcp::parse_traceparent(bastion::mcp::format_traceparent(child));
  if (!again || again->trace_id != parent->trace_id || again->span_id != child.span_id) std::abort();
  return 0;
}
