#include "mcp/trace_context.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace bastion::mcp;

TEST(TraceContext, ParsesTheW3CExample) {
  auto p = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(p->span_id, "00f067aa0ba902b7");
  EXPECT_TRUE(p->sampled);
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")->sampled);
  // A later version may carry more fields after a dash.
  EXPECT_TRUE(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"));
}

TEST(TraceContext, RefusesMalformedValues) {
  for (const char* bad : {"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                          "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper case
                          "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero span
                          "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // invalid version
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // v00 has no tail
                          "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"}) {
    EXPECT_FALSE(parse_traceparent(bad)) << bad;
  }
}

TEST(TraceContext, ContinuesAParentOrStartsATrace) {
  auto parent = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  auto child = start_span(parent);
  EXPECT_EQ(child.trace_id, parent->trace_id);
  EXPECT_EQ(child.parent_span_id, parent->span_id);
  EXPECT_NE(child.span_id, parent->span_id);
  auto formatted = format_traceparent(child);
  auto reparsed = parse_traceparent(formatted);
  ASSERT_TRUE(reparsed) << formatted;
  EXPECT_EQ(reparsed->span_id, child.span_id);

  std::set<std::string> traces;
  for (int i = 0; i < 1000; ++i) {
    auto root = start_span(std::nullopt);
    EXPECT_TRUE(root.parent_span_id.empty());
    EXPECT_EQ(root.trace_id.size(), 32u);
    EXPECT_EQ(root.span_id.size(), 16u);
    EXPECT_TRUE(parse_traceparent(format_traceparent(root)));
    traces.insert(root.trace_id);
  }
  EXPECT_EQ(traces.size(), 1000u);
}
