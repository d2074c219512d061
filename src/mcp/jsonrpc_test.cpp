#include "mcp/jsonrpc.hpp"

#include <gtest/gtest.h>

#include "mcp/protocol.hpp"

using namespace bastion::mcp;

TEST(JsonRpc, ClassifiesRequestsNotificationsResponses) {
  auto r = parse_body(R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}})", {});
  ASSERT_TRUE(r.body);
  EXPECT_EQ(r.body->messages[0].kind, MessageKind::request);
  EXPECT_EQ(r.body->messages[0].method(), "tools/list");
  r = parse_body(R"({"jsonrpc":"2.0","method":"notifications/initialized"})", {});
  ASSERT_TRUE(r.body);
  EXPECT_EQ(r.body->messages[0].kind, MessageKind::notification);
  r = parse_body(R"({"jsonrpc":"2.0","id":"a","result":{}})", {});
  ASSERT_TRUE(r.body);
  EXPECT_EQ(r.body->messages[0].kind, MessageKind::response);
  r = parse_body(R"({"jsonrpc":"2.0","id":"a","error":{"code":-1,"message":"x"}})", {});
  ASSERT_TRUE(r.body);
  EXPECT_TRUE(r.body->messages[0].is_error_response());
}

TEST(JsonRpc, RejectsBadShapesWithTheRightCode) {
  struct Case {
    const char* body;
    int code;
  } cases[] = {
      {"{not json", code::parse_error},
      {"", code::parse_error},
      {"[]", code::invalid_request},
      {"42", code::invalid_request},
      {R"({"id":1,"method":"x"})", code::invalid_request},                       // no jsonrpc
      {R"({"jsonrpc":"1.0","id":1,"method":"x"})", code::invalid_request},
      {R"({"jsonrpc":"2.0","id":null,"method":"x"})", code::invalid_request},    // null id
      {R"({"jsonrpc":"2.0","id":{},"method":"x"})", code::invalid_request},      // object id
      {R"({"jsonrpc":"2.0","id":1.5,"method":"x"})", code::invalid_request},
      {R"({"jsonrpc":"2.0","id":1,"method":7})", code::invalid_request},
      {R"({"jsonrpc":"2.0","id":1,"method":"x","params":[1]})", code::invalid_request},
      {R"({"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1}})", code::invalid_request},
      {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\xfe\"}", code::parse_error},  // invalid UTF-8
  };
  for (const auto& c : cases) {
    auto r = parse_body(c.body, {});
    ASSERT_TRUE(r.failure) << c.body;
    EXPECT_EQ(r.failure->code, c.code) << c.body;
    EXPECT_FALSE(r.failure->message.empty());
  }
}

TEST(JsonRpc, RecoversIdForInvalidRequests) {
  auto r = parse_body(R"({"jsonrpc":"2.0","id":7,"method":"x","params":"no"})", {});
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->id, 7);
}

TEST(JsonRpc, DepthLimit) {
  std::string deep(100, '[');
  deep += std::string(100, ']');
  auto r = parse_body(deep, ParseLimits{64});
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->code, code::parse_error);
  EXPECT_NE(r.failure->message.find("deeper"), std::string::npos);
}

TEST(JsonRpc, Batches) {
  auto r = parse_body(R"([{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","method":"b"}])", {});
  ASSERT_TRUE(r.body);
  EXPECT_TRUE(r.body->batch);
  EXPECT_EQ(r.body->messages.size(), 2u);
}

TEST(Protocol, EraMarkersAndNames) {
  auto r = parse_body(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo",
      "_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","progressToken":1}}})", {});
  ASSERT_TRUE(r.body);
  EXPECT_EQ(meta_protocol_version(r.body->messages[0]), "2026-07-28");
  EXPECT_EQ(target_name(r.body->messages[0]), "echo");
  auto legacy = parse_body(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"e","_meta":{"progressToken":1}}})", {});
  EXPECT_FALSE(meta_protocol_version(legacy.body->messages[0]));
  EXPECT_EQ(negotiate_stateful_version("2025-03-26"), "2025-03-26");
  EXPECT_EQ(negotiate_stateful_version("2026-07-28"), "2025-11-25");
  EXPECT_EQ(negotiate_stateful_version("1999-01-01"), "2025-11-25");
}

// Found by fuzz_jsonrpc: a huge numeric id was cast to an integer (undefined behaviour).
TEST(JsonRpc, HugeOrFractionalNumericIdsAreInvalidWithoutUndefinedBehaviour) {
  for (const char* id : {"1e109", "-1e300", "22222222222222222222222222222", "1.5", "9.3e18"}) {
    auto r = parse_body(std::string(R"({"jsonrpc":"2.0","id":)") + id + R"(,"method":"ping"})", {});
    EXPECT_FALSE(r.body) << id;
    ASSERT_TRUE(r.failure) << id;
    EXPECT_EQ(r.failure->code, code::invalid_request) << id;
  }
  auto ok = parse_body(R"({"jsonrpc":"2.0","id":3.0,"method":"ping"})", {});
  EXPECT_TRUE(ok.body);
}

// Found by fuzz_http_request: an MCP-Protocol-Version header with bytes that are not UTF-8 was
// quoted into the header-mismatch error as it was, and the 400 body was not JSON.
TEST(JsonRpc, ErrorMessageQuotingInvalidUtf8StaysJson) {
  auto err = bastion::mcp::make_error(json::value(7), -32020, "value '2026-0\xd1\xd2" "8' \xc3\xa9 \xed\xa0\x80 \xf4\x90\x80\x80");
  boost::system::error_code ec;
  auto parsed = json::parse(json::serialize(err), ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(parsed.at("error").at("message").as_string(),
            "value '2026-0\xef\xbf\xbd\xef\xbf\xbd" "8' \xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
            "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}
