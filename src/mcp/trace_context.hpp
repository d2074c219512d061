#pragma once
// W3C Trace Context for MCP: MCP carries `traceparent` (and `tracestate`) in a request's
// params._meta. Bastion continues a client's trace (its span becomes the parent) or starts one,
// and hands its own span on to the upstream the same way. Pure logic.
#include <optional>
#include <string>
#include <string_view>

namespace bastion::mcp {

inline constexpr std::string_view kTraceparentKey = "traceparent";
inline constexpr std::string_view kTracestateKey = "tracestate";

struct SpanContext {
  std::string trace_id;        // 32 lower-case hex, not all zero
  std::string span_id;         // 16 lower-case hex, not all zero
  std::string parent_span_id;  // empty for a root span
  bool sampled = true;
};

struct ParentContext {
  std::string trace_id;
  std::string span_id;
  bool sampled = true;
};

// "00-<32 hex>-<16 hex>-<2 hex flags>" (version 00; future versions are read by the same prefix,
// as the W3C spec asks). nullopt for anything malformed, upper-case, or all-zero ids.
std::optional<ParentContext> parse_traceparent(std::string_view text);
std::string format_traceparent(const SpanContext& span);

// A new span: a child of `parent` when given, else the root of a new trace. Random ids.
SpanContext start_span(const std::optional<ParentContext>& parent);

}  // namespace bastion::mcp
