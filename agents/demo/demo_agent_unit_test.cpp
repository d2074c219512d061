// Unit tests for the agent's pure parts: digests, encodings, requestState, JSON-RPC, _meta.
#include <gtest/gtest.h>

#include <string>

#include "demo/call_context.hpp"
#include "demo/digest.hpp"
#include "demo/encoding.hpp"
#include "demo/json_rpc.hpp"
#include "demo/protocol.hpp"
#include "demo/request_state.hpp"

namespace bastion::demo {
namespace {

std::string hex_sha256(std::string_view data) { return to_hex(sha256(data)); }

TEST(Sha256, MatchesKnownVectorsAcrossBlockBoundaries) {
  EXPECT_EQ(hex_sha256(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex_sha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(hex_sha256(std::string(55, 'a')),
            "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(hex_sha256(std::string(56, 'a')),
            "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(hex_sha256(std::string(63, 'a')),
            "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34");
  EXPECT_EQ(hex_sha256(std::string(64, 'a')),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
  EXPECT_EQ(hex_sha256(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(HmacSha256, MatchesRfc4231) {
  EXPECT_EQ(to_hex(hmac_sha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // A key longer than the block size is hashed first.
  EXPECT_EQ(to_hex(hmac_sha256(std::string(131, '\xaa'),
                               "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Encoding, Base64AndBase64UrlRoundTrip) {
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  for (const std::string sample : {"", "f", "fo", "foo", "foob", "\xff\xfe\x00\x01 binary"}) {
    const auto decoded = base64url_decode(base64url_encode(sample));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, sample);
  }
  EXPECT_FALSE(base64url_decode("a").has_value());      // impossible length
  EXPECT_FALSE(base64url_decode("Zm9v+").has_value());  // standard alphabet is not url-safe
  EXPECT_FALSE(base64url_decode("Zh").has_value());     // non-zero trailing bits
}

TEST(RequestState, RoundTripsAndRejectsTampering) {
  RequestStateCodec codec("key-one-key-one-key-one-key-one!", std::chrono::seconds(600));
  json::object payload;
  payload["n"] = "tool";
  payload["r"] = json::object{{"step1", json::object{{"action", "accept"}}}};
  const std::string token = codec.seal(payload, 1000);

  auto opened = codec.open(token, 1010);
  ASSERT_TRUE(std::holds_alternative<json::object>(opened));
  EXPECT_EQ(std::get<json::object>(opened).at("n"), "tool");

  EXPECT_TRUE(std::holds_alternative<StateError>(codec.open(token + "-TAMPERED", 1010)));
  std::string flipped = token;
  flipped[5] = flipped[5] == 'A' ? 'B' : 'A';
  EXPECT_TRUE(std::holds_alternative<StateError>(codec.open(flipped, 1010)));
  EXPECT_TRUE(std::holds_alternative<StateError>(codec.open("", 1010)));
  EXPECT_TRUE(std::holds_alternative<StateError>(codec.open("v1.", 1010)));

  // Another process (another key) cannot vouch for this state.
  RequestStateCodec other("key-two-key-two-key-two-key-two!", std::chrono::seconds(600));
  EXPECT_TRUE(std::holds_alternative<StateError>(other.open(token, 1010)));
  // Expired, and issued implausibly far in the future.
  EXPECT_TRUE(std::holds_alternative<StateError>(codec.open(token, 1000 + 601)));
  EXPECT_TRUE(std::holds_alternative<StateError>(codec.open(token, 1000 - 3600)));
}

TEST(RequestState, RandomKeysDiffer) {
  const auto a = RequestStateCodec::with_random_key(std::chrono::seconds(60));
  const auto b = RequestStateCodec::with_random_key(std::chrono::seconds(60));
  const std::string token = a.seal(json::object{{"x", 1}}, 100);
  EXPECT_TRUE(std::holds_alternative<json::object>(a.open(token, 100)));
  EXPECT_TRUE(std::holds_alternative<StateError>(b.open(token, 100)));
}

TEST(CanonicalDigest, IgnoresKeyOrderButNotValues) {
  const json::value a = json::parse(R"({"b":1,"a":{"y":[1,2],"x":"s"}})");
  const json::value b = json::parse(R"({"a":{"x":"s","y":[1,2]},"b":1})");
  const json::value c = json::parse(R"({"a":{"x":"s","y":[2,1]},"b":1})");
  EXPECT_EQ(canonical_digest(a), canonical_digest(b));
  EXPECT_NE(canonical_digest(a), canonical_digest(c));
}

TEST(JsonRpc, ClassifiesMessages) {
  using namespace jsonrpc;
  const auto classify_text = [](std::string_view text) { return classify(*parse(text)); };

  auto request = classify_text(R"({"jsonrpc":"2.0","id":7,"method":"ping"})");
  ASSERT_TRUE(std::holds_alternative<Request>(request));
  EXPECT_EQ(std::get<Request>(request).id, 7);
  EXPECT_TRUE(std::get<Request>(request).params.empty());

  EXPECT_TRUE(std::holds_alternative<Notification>(
      classify_text(R"({"jsonrpc":"2.0","method":"notifications/initialized"})")));
  EXPECT_TRUE(
      std::holds_alternative<Response>(classify_text(R"({"jsonrpc":"2.0","id":"a","result":{}})")));

  const auto invalid = [&](std::string_view text, int code, const json::value& id) {
    auto message = classify_text(text);
    ASSERT_TRUE(std::holds_alternative<Invalid>(message)) << text;
    EXPECT_EQ(std::get<Invalid>(message).error.code, code) << text;
    EXPECT_EQ(std::get<Invalid>(message).id, id) << text;
  };
  invalid(R"([1])", kInvalidRequest, nullptr);
  invalid(R"(42)", kInvalidRequest, nullptr);
  invalid(R"({"jsonrpc":"1.0","id":1,"method":"ping"})", kInvalidRequest, 1);
  invalid(R"({"jsonrpc":"2.0","id":null,"method":"ping"})", kInvalidRequest, nullptr);
  invalid(R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})", kInvalidRequest, nullptr);
  invalid(R"({"jsonrpc":"2.0","id":2,"method":""})", kInvalidRequest, 2);
  invalid(R"({"jsonrpc":"2.0","id":3,"method":"ping","params":[1]})", kInvalidParams, 3);
  invalid(R"({"jsonrpc":"2.0","id":4,"result":{},"error":{}})", kInvalidRequest, 4);

  EXPECT_FALSE(parse("{").has_value());
  EXPECT_FALSE(parse(std::string(100, '[') + std::string(100, ']')).has_value());  // too deep
  EXPECT_TRUE(parse(std::string(60, '[') + std::string(60, ']')).has_value());
}

TEST(Protocol, ReadsEraFromMeta) {
  using protocol::Era;
  const auto read = [](std::string_view method, std::string_view params) {
    return protocol::read_meta(method, json::parse(params).as_object());
  };
  auto session = read("tools/list", "{}");
  ASSERT_TRUE(std::holds_alternative<protocol::RequestMeta>(session));
  EXPECT_EQ(std::get<protocol::RequestMeta>(session).era, Era::session);

  auto stateless = read("tools/list", R"({"_meta":{
      "io.modelcontextprotocol/protocolVersion":"2026-07-28",
      "io.modelcontextprotocol/clientCapabilities":{"sampling":{}},
      "io.modelcontextprotocol/logLevel":"warning","progressToken":"p"}})");
  ASSERT_TRUE(std::holds_alternative<protocol::RequestMeta>(stateless));
  const auto& meta = std::get<protocol::RequestMeta>(stateless);
  EXPECT_EQ(meta.era, Era::stateless);
  EXPECT_TRUE(meta.capabilities.has("sampling"));
  EXPECT_FALSE(meta.capabilities.has("elicitation"));
  EXPECT_EQ(meta.log_level, protocol::LogLevel::warning);
  EXPECT_EQ(*meta.progress_token, "p");

  const auto error_code = [&](std::string_view method, std::string_view params) {
    auto result = read(method, params);
    return std::holds_alternative<jsonrpc::RpcError>(result)
               ? std::get<jsonrpc::RpcError>(result).code
               : 0;
  };
  EXPECT_EQ(error_code("server/discover", "{}"), jsonrpc::kInvalidParams);
  EXPECT_EQ(error_code("server/discover",
                       R"({"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}})"),
            jsonrpc::kInvalidParams);
  EXPECT_EQ(error_code("tools/list",
                       R"({"_meta":{"io.modelcontextprotocol/protocolVersion":"v999",
                           "io.modelcontextprotocol/clientCapabilities":{}}})"),
            jsonrpc::kUnsupportedProtocolVersion);
  EXPECT_EQ(error_code("tools/list", R"({"_meta":{"io.modelcontextprotocol/protocolVersion":
      "2026-07-28","io.modelcontextprotocol/clientCapabilities":{},
      "io.modelcontextprotocol/logLevel":"loud"}})"),
            jsonrpc::kInvalidParams);
  EXPECT_EQ(error_code("tools/list", R"({"_meta":5})"), jsonrpc::kInvalidParams);
  // A session-era request that names its own version is still a session-era request.
  EXPECT_EQ(error_code("tools/list",
                       R"({"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25"}})"),
            0);
}

TEST(Protocol, NegotiatesSessionVersions) {
  const json::value v2025_03 = "2025-03-26";
  const json::value future = "2099-01-01";
  const json::value stateless = "2026-07-28";
  EXPECT_EQ(protocol::negotiate_session_version(&v2025_03), "2025-03-26");
  EXPECT_EQ(protocol::negotiate_session_version(&future), "2025-11-25");
  EXPECT_EQ(protocol::negotiate_session_version(&stateless), "2025-11-25");
  EXPECT_EQ(protocol::negotiate_session_version(nullptr), "2025-11-25");
}

}  // namespace
}  // namespace bastion::demo
