#include "record/otlp/otlp_json.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

using namespace bastion::record::otlp;
namespace json = boost::json;

TEST(OtlpJson, EncodesSpansAsTheProtobufJsonMapping) {
  Span s;
  s.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  s.span_id = "00f067aa0ba902b7";
  s.parent_span_id = "1111111111111111";
  s.name = "tools/call echo";
  s.start_unix_nano = 1'800'000'000'123'456'789ull;
  s.end_unix_nano = 1'800'000'000'223'456'789ull;
  s.attributes = {{"mcp.method.name", std::string("tools/call")},
                  {"bastion.request_bytes", std::int64_t(120)},
                  {"bastion.output_quality", 0.75},
                  {"bastion.contradiction_applied", true}};
  s.status = StatusCode::error;
  s.status_message = "boom";
  Span root = s;
  root.parent_span_id.clear();
  root.status = StatusCode::unset;
  root.status_message.clear();
  auto doc = json::parse(export_request_json({s, root}, Resource{"bastion", "0.1.0"})).as_object();
  auto& rs = doc.at("resourceSpans").as_array().at(0).as_object();
  auto& rattrs = rs.at("resource").at("attributes").as_array();
  EXPECT_EQ(rattrs.at(0).at("key"), "service.name");
  EXPECT_EQ(rattrs.at(0).at("value").at("stringValue"), "bastion");
  auto& ss = rs.at("scopeSpans").as_array().at(0).as_object();
  EXPECT_EQ(ss.at("scope").at("name"), "bastion");
  auto& spans = ss.at("spans").as_array();
  ASSERT_EQ(spans.size(), 2u);
  auto& o = spans.at(0).as_object();
  EXPECT_EQ(o.at("traceId"), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(o.at("parentSpanId"), "1111111111111111");
  EXPECT_EQ(o.at("kind"), 2);
  // 64-bit integers travel as strings in OTLP/JSON.
  EXPECT_EQ(o.at("startTimeUnixNano"), "1800000000123456789");
  EXPECT_EQ(o.at("endTimeUnixNano"), "1800000000223456789");
  auto& attrs = o.at("attributes").as_array();
  EXPECT_EQ(attrs.at(0).at("value").at("stringValue"), "tools/call");
  EXPECT_EQ(attrs.at(1).at("value").at("intValue"), "120");
  EXPECT_EQ(attrs.at(2).at("value").at("doubleValue"), 0.75);
  EXPECT_EQ(attrs.at(3).at("value").at("boolValue"), true);
  EXPECT_EQ(o.at("status").at("code"), 2);
  EXPECT_EQ(o.at("status").at("message"), "boom");
  auto& r = spans.at(1).as_object();
  EXPECT_FALSE(r.contains("parentSpanId"));
  EXPECT_EQ(r.at("status").at("code"), 0);
  EXPECT_FALSE(r.at("status").as_object().contains("message"));
}
