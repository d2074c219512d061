#include "mcp/http_headers.hpp"

#include <gtest/gtest.h>

using namespace bastion::mcp;

TEST(HttpHeaders, Accept) {
  EXPECT_TRUE(accepts("application/json, text/event-stream", "text/event-stream"));
  EXPECT_TRUE(accepts("text/event-stream, application/json", "application/json"));
  EXPECT_TRUE(accepts("*/*", "application/json"));
  EXPECT_TRUE(accepts("application/*;q=0.5", "application/json"));
  EXPECT_FALSE(accepts("application/json;q=0", "application/json"));
  EXPECT_FALSE(accepts("text/html", "application/json"));
  EXPECT_FALSE(accepts("", "application/json"));
}

TEST(HttpHeaders, Base64Values) {
  EXPECT_EQ(decode_header_value("=?base64?SGVsbG8=?="), "Hello");
  EXPECT_FALSE(decode_header_value("=?base64?SGVsbG8?="));        // padding required
  EXPECT_FALSE(decode_header_value("=?base64?SGVs!!!bG8=?="));    // bad alphabet
  EXPECT_EQ(decode_header_value("SGVsbG8="), "SGVsbG8=");         // literal without markers
  EXPECT_EQ(decode_header_value("=?base64?SGVsbG8="), "=?base64?SGVsbG8=");
  EXPECT_EQ(decode_header_value("=?BASE64?SGVsbG8=?="), "=?BASE64?SGVsbG8=?=");
  EXPECT_EQ(decode_header_value("  padded  "), "padded");
}

TEST(HttpHeaders, MethodAndNameChecks) {
  auto call = parse_body(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}})", {});
  const auto& m = call.body->messages[0];
  EXPECT_TRUE(check_method_headers(m, "tools/call", "echo").ok);
  EXPECT_TRUE(check_method_headers(m, "tools/call", "  echo  ").ok);
  EXPECT_TRUE(check_method_headers(m, "tools/call", "=?base64?ZWNobw==?=").ok);
  EXPECT_FALSE(check_method_headers(m, std::nullopt, "echo").ok);
  EXPECT_FALSE(check_method_headers(m, "TOOLS/CALL", "echo").ok);
  EXPECT_FALSE(check_method_headers(m, "tools/call", std::nullopt).ok);
  EXPECT_FALSE(check_method_headers(m, "tools/call", "other").ok);
  auto list = parse_body(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})", {});
  EXPECT_TRUE(check_method_headers(list.body->messages[0], "tools/list", std::nullopt).ok);
  EXPECT_FALSE(check_method_headers(list.body->messages[0], "prompts/list", std::nullopt).ok);
}

TEST(HttpHeaders, ParamHeadersFollowTheToolSchema) {
  auto schema = boost::json::parse(R"({"type":"object","properties":{
      "region":{"type":"string","x-mcp-header":"Region"},
      "count":{"type":"integer","x-mcp-header":"Count"},
      "query":{"type":"string"}}})").as_object();
  auto args = boost::json::parse(R"({"region":"Hello","count":42,"query":"q"})").as_object();
  EXPECT_TRUE(check_param_headers(schema, &args, {{"region", "Hello"}, {"count", "42"}}).ok);
  EXPECT_TRUE(check_param_headers(schema, &args, {{"region", "=?base64?SGVsbG8=?="}, {"count", "42.0"}}).ok);
  EXPECT_FALSE(check_param_headers(schema, &args, {{"count", "42"}}).ok) << "missing header";
  EXPECT_FALSE(check_param_headers(schema, &args, {{"region", "=?base64?SGVsbG8?="}, {"count", "42"}}).ok);
  EXPECT_FALSE(check_param_headers(schema, &args, {{"region", "=?base64?SGVs!!!bG8=?="}, {"count", "42"}}).ok);
  EXPECT_FALSE(check_param_headers(schema, &args, {{"region", "Bye"}, {"count", "42"}}).ok);
  EXPECT_FALSE(check_param_headers(schema, &args, {{"region", "Hello"}, {"count", "41"}}).ok);
  auto literal = boost::json::parse(R"({"region":"SGVsbG8=","count":1})").as_object();
  EXPECT_TRUE(check_param_headers(schema, &literal, {{"region", "SGVsbG8="}, {"count", "1"}}).ok);
  auto absent = boost::json::parse(R"({"region":null})").as_object();
  EXPECT_TRUE(check_param_headers(schema, &absent, {}).ok) << "null or absent values need no header";
}
