#include "echo_server/echo_protocol.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace bastion::bench {
namespace {

namespace json = boost::json;

constexpr std::string_view kMeta2026 =
    R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}})";

class EchoProtocolTest : public ::testing::Test {
 protected:
  EchoService service{EchoOptions{}};

  Reply post(std::string body, std::optional<std::string_view> version = std::nullopt,
             std::optional<std::string_view> session = std::nullopt,
             std::optional<std::string_view> mcp_method = std::nullopt) {
    body_ = std::move(body);
    RequestView req;
    req.verb = Verb::post;
    req.target = "/mcp";
    req.content_type = "application/json";
    req.protocol_version = version;
    req.session_id = session;
    req.mcp_method = mcp_method;
    req.body = body_;
    return service.handle(req);
  }

  static json::object parse(const Reply& r) { return json::parse(r.body).as_object(); }

  static std::string stateless(std::string_view method, std::string_view params_inner = "") {
    std::string params = "{";
    params += params_inner;
    if (!params_inner.empty()) params += ",";
    params += kMeta2026;
    params += "}";
    return R"({"jsonrpc":"2.0","id":7,"method":")" + std::string(method) + R"(","params":)" + params + "}";
  }

  std::string body_;
};

TEST_F(EchoProtocolTest, InitializeMintsASessionAndNegotiatesTheVersion) {
  auto r = post(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.session_id.size(), 32u);
  auto body = parse(r);
  EXPECT_EQ(body.at("id"), 1);
  EXPECT_EQ(body.at("result").at("protocolVersion"), "2025-06-18");
  EXPECT_TRUE(body.at("result").at("capabilities").as_object().contains("tools"));
  EXPECT_EQ(body.at("result").at("serverInfo").at("name"), "bastion-bench-echo");

  auto unknown = post(R"({"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"1999-01-01"}})");
  EXPECT_EQ(parse(unknown).at("result").at("protocolVersion"), "2025-11-25");
  EXPECT_NE(unknown.session_id, r.session_id);
}

TEST_F(EchoProtocolTest, InitializedNotificationIsAccepted) {
  auto r = post(R"({"jsonrpc":"2.0","method":"notifications/initialized"})", "2025-11-25", "abc");
  EXPECT_EQ(r.status, 202u);
  EXPECT_TRUE(r.body.empty());
}

TEST_F(EchoProtocolTest, StatefulToolsCallEchoesTheMessage) {
  auto r = post(R"({"jsonrpc":"2.0","id":"x-1","method":"tools/call","params":{"name":"echo","arguments":{"message":"hi \"there\""}}})",
                "2025-11-25", "abc");
  ASSERT_EQ(r.status, 200u);
  auto body = parse(r);
  EXPECT_EQ(body.at("id"), "x-1");
  const auto& result = body.at("result").as_object();
  EXPECT_FALSE(result.contains("resultType"));
  EXPECT_EQ(result.at("content").at(0).at("type"), "text");
  EXPECT_EQ(result.at("content").at(0).at("text"), "hi \"there\"");
  EXPECT_EQ(result.at("isError"), false);
}

TEST_F(EchoProtocolTest, StatefulRequestsNeedASession) {
  auto r = post(R"({"jsonrpc":"2.0","id":3,"method":"tools/list"})", "2025-11-25");
  EXPECT_EQ(r.status, 400u);
  auto listed = post(R"({"jsonrpc":"2.0","id":3,"method":"tools/list"})", "2025-11-25", "abc");
  ASSERT_EQ(listed.status, 200u);
  auto tools = parse(listed).at("result").at("tools").as_array();
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_EQ(tools[0].at("name"), "echo");
  EXPECT_EQ(tools[0].at("inputSchema").at("required").at(0), "message");
}

TEST_F(EchoProtocolTest, StatelessDiscover) {
  auto r = post(stateless("server/discover"), "2026-07-28", std::nullopt, "server/discover");
  ASSERT_EQ(r.status, 200u);
  EXPECT_TRUE(r.session_id.empty());
  auto result = parse(r).at("result").as_object();
  EXPECT_EQ(result.at("resultType"), "complete");
  EXPECT_EQ(result.at("supportedVersions").at(0), "2026-07-28");
  EXPECT_TRUE(result.at("capabilities").as_object().contains("tools"));
  EXPECT_TRUE(result.contains("ttlMs"));
  EXPECT_TRUE(result.contains("cacheScope"));
}

TEST_F(EchoProtocolTest, StatelessToolsListAndCall) {
  auto list = post(stateless("tools/list"), "2026-07-28", std::nullopt, "tools/list");
  ASSERT_EQ(list.status, 200u);
  EXPECT_EQ(parse(list).at("result").at("resultType"), "complete");
  EXPECT_EQ(parse(list).at("result").at("tools").at(0).at("name"), "echo");

  auto call = post(stateless("tools/call", R"("name":"echo","arguments":{"message":"ping"})"), "2026-07-28",
                   std::nullopt, "tools/call");
  ASSERT_EQ(call.status, 200u);
  auto result = parse(call).at("result").as_object();
  EXPECT_EQ(result.at("resultType"), "complete");
  EXPECT_EQ(result.at("content").at(0).at("text"), "ping");
  EXPECT_EQ(parse(call).at("id"), 7);
}

TEST_F(EchoProtocolTest, StatelessHeaderRules) {
  auto missing = post(stateless("tools/list"));
  EXPECT_EQ(missing.status, 400u);
  EXPECT_EQ(parse(missing).at("error").at("code"), -32020);

  auto wrong_method = post(stateless("tools/list"), "2026-07-28", std::nullopt, "tools/call");
  EXPECT_EQ(wrong_method.status, 400u);
  EXPECT_EQ(parse(wrong_method).at("error").at("code"), -32020);

  std::string old = R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2027-01-01"}}})";
  auto unsupported = post(old, "2027-01-01");
  EXPECT_EQ(unsupported.status, 400u);
  EXPECT_EQ(parse(unsupported).at("error").at("code"), -32022);
  EXPECT_EQ(parse(unsupported).at("error").at("data").at("requested"), "2027-01-01");

  auto no_meta = post(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})", "2026-07-28");
  EXPECT_EQ(no_meta.status, 400u);
  EXPECT_EQ(parse(no_meta).at("error").at("code"), -32602);
}

TEST_F(EchoProtocolTest, StatelessUnknownMethodIs404) {
  auto r = post(stateless("initialize"), "2026-07-28");
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(parse(r).at("error").at("code"), -32601);
}

TEST_F(EchoProtocolTest, ToolErrorsAreJsonRpcErrors) {
  auto unknown = post(stateless("tools/call", R"("name":"nope","arguments":{})"), "2026-07-28");
  EXPECT_EQ(unknown.status, 200u);
  EXPECT_EQ(parse(unknown).at("error").at("code"), -32602);
  auto bad_args = post(stateless("tools/call", R"("name":"echo","arguments":{"message":3})"), "2026-07-28");
  EXPECT_EQ(parse(bad_args).at("error").at("code"), -32602);
}

TEST_F(EchoProtocolTest, MalformedBodies) {
  EXPECT_EQ(post("{nope").status, 400u);
  EXPECT_EQ(parse(post("{nope")).at("error").at("code"), -32700);
  EXPECT_EQ(parse(post(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])")).at("error").at("code"), -32600);
  EXPECT_EQ(parse(post(R"({"jsonrpc":"1.0","id":1,"method":"ping"})")).at("error").at("code"), -32600);
  EXPECT_EQ(post(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":[1]})").status, 400u);
  std::string deep(100, '[');
  EXPECT_EQ(post(deep + std::string(100, ']')).status, 400u);
  // A client's response to a server request is acknowledged.
  EXPECT_EQ(post(R"({"jsonrpc":"2.0","id":4,"result":{}})").status, 202u);
}

TEST_F(EchoProtocolTest, TransportRules) {
  RequestView req;
  req.target = "/other";
  req.content_type = "application/json";
  EXPECT_EQ(service.handle(req).status, 404u);
  req.target = "/mcp";
  req.verb = Verb::get;
  auto get = service.handle(req);
  EXPECT_EQ(get.status, 405u);
  EXPECT_FALSE(get.allow.empty());
  req.verb = Verb::del;
  EXPECT_EQ(service.handle(req).status, 400u);
  req.session_id = "abc";
  EXPECT_EQ(service.handle(req).status, 200u);
  req.verb = Verb::post;
  req.content_type = "text/plain";
  req.body = "{}";
  EXPECT_EQ(service.handle(req).status, 415u);
}

// The auth route nginx's auth_request calls: 204 only for the exact bearer token.
TEST(EchoAuthTest, AnswersTheBearerCheck) {
  EchoOptions options;
  options.auth_token = "s3cret-token";
  EchoService service(options);
  auto check = [&](std::optional<std::string_view> authorization, Verb verb = Verb::get) {
    RequestView req;
    req.verb = verb;
    req.target = "/auth";
    req.authorization = authorization;
    auto reply = service.handle(req);
    EXPECT_TRUE(reply.body.empty());
    return reply.status;
  };
  EXPECT_EQ(check("Bearer s3cret-token"), 204u);
  EXPECT_EQ(check("bearer s3cret-token"), 204u);  // the scheme is case-insensitive
  EXPECT_EQ(check("Bearer s3cret-token", Verb::post), 204u);
  EXPECT_EQ(check(std::nullopt), 401u);
  EXPECT_EQ(check(""), 401u);
  EXPECT_EQ(check("Bearer s3cret-tokeN"), 401u);
  EXPECT_EQ(check("Bearer s3cret-toke"), 401u);   // a prefix of the token
  EXPECT_EQ(check("Bearer s3cret-token2"), 401u);
  EXPECT_EQ(check("Basic s3cret-token"), 401u);
  EXPECT_EQ(check("Bearers3cret-token!"), 401u);  // same length, no space after the scheme
  EXPECT_EQ(check("s3cret-token"), 401u);

  // The MCP endpoint is unchanged and needs no token.
  RequestView mcp;
  mcp.target = "/mcp";
  mcp.verb = Verb::get;
  EXPECT_EQ(service.handle(mcp).status, 405u);
}

TEST(EchoAuthTest, NoRouteWithoutAToken) {
  EchoService service{EchoOptions{}};
  RequestView req;
  req.verb = Verb::get;
  req.target = "/auth";
  req.authorization = "Bearer ";
  EXPECT_EQ(service.handle(req).status, 404u);
}

TEST(SessionIdTest, IsVisibleAsciiHex) {
  auto id = mint_session_id();
  ASSERT_EQ(id.size(), 32u);
  for (char c : id) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << id;
  EXPECT_NE(id, mint_session_id());
}

}  // namespace
}  // namespace bastion::bench
