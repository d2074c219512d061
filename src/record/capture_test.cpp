#include "record/capture.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace bastion::record {
namespace {
namespace json = boost::json;

CaptureConfig make_config(CaptureMode mode, std::vector<std::string> paths = {},
                          std::size_t cap = 64 << 10) {
  CaptureConfig c;
  c.mode = mode;
  c.redact_paths = std::move(paths);
  c.max_payload_bytes = cap;
  return c;
}

TEST(Capture, ParseModes) {
  EXPECT_EQ(parse_capture_mode("hashed"), CaptureMode::hashed);
  EXPECT_EQ(parse_capture_mode("redacted"), CaptureMode::redacted);
  EXPECT_EQ(parse_capture_mode("full"), CaptureMode::full);
  EXPECT_FALSE(parse_capture_mode("Full"));
  EXPECT_EQ(to_string(CaptureMode::redacted), "redacted");
}

TEST(Capture, HashedStoresNothing) {
  PayloadCapture c(CaptureConfig{});
  EXPECT_FALSE(c.capture(json::parse(R"({"a":1})")));
}

TEST(Capture, FullKeepsEverything) {
  PayloadCapture c(make_config(CaptureMode::full));
  auto out = c.capture(json::parse(R"({"password":"hunter2","note":"Bearer abcdefghijkl"})"));
  ASSERT_TRUE(out);
  EXPECT_EQ(json::parse(*out),
            json::parse(R"({"password":"hunter2","note":"Bearer abcdefghijkl"})"));
}

TEST(Capture, SecretKeys) {
  for (auto k : {"password",     "Passwd",        "db_password",
                 "SECRET",       "client_secret", "token",
                 "access_token", "refresh-token", "api_key",
                 "X-Api-Key",    "apikey",        "Authorization",
                 "cookie",       "Set-Cookie",    "private_key",
                 "privateKey",   "credentials",   "aws_secret_access_key",
                 "pwd",          "mcp-session-id"}) {
    EXPECT_TRUE(is_secret_key(k)) << k;
  }
  for (auto k :
       {"max_tokens", "tokens", "username", "name", "ssn", "author", "secretary_name", "passage"}) {
    EXPECT_FALSE(is_secret_key(k)) << k;
  }
}

TEST(Capture, SecretShapesInText) {
  EXPECT_EQ(mask_secret_shapes("Authorization: Bearer abc.def-ghi_jkl"),
            "Authorization: Bearer ***");
  EXPECT_EQ(mask_secret_shapes("bearer   0123456789"), "bearer   ***");
  EXPECT_EQ(mask_secret_shapes("Bearer short"), "Bearer short");
  EXPECT_EQ(mask_secret_shapes("jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl ok"),
            "jwt=*** ok");
  EXPECT_EQ(mask_secret_shapes("key sk-ant-api03-AbCdEfGhIjKlMnOpQr, next"), "key ***, next");
  EXPECT_EQ(mask_secret_shapes("sk-short"), "sk-short");
  EXPECT_EQ(mask_secret_shapes("ghp_0123456789abcdefghijABCDEFGHIJ0123"), "***");
  EXPECT_EQ(mask_secret_shapes("github_pat_11ABCDEFG0123456789_abcdefghijklmnop"), "***");
  EXPECT_EQ(mask_secret_shapes("id AKIAIOSFODNN7EXAMPLE."), "id ***.");
  EXPECT_EQ(mask_secret_shapes("AKIAIOSFODNN7EXAMPLEX"),
            "AKIAIOSFODNN7EXAMPLEX");  // 17 chars: not a key id
  EXPECT_EQ(mask_secret_shapes("xoxb-1234567890-abcdef"), "***");
  EXPECT_EQ(mask_secret_shapes(
                "a\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\nb"),
            "a\n***\nb");
  EXPECT_EQ(mask_secret_shapes("-----BEGIN PRIVATE KEY-----\nMIIE (torn"), "***");
  EXPECT_EQ(mask_secret_shapes("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"),
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----");
  EXPECT_EQ(mask_secret_shapes("task-0123456789abcdefghij"),
            "task-0123456789abcdefghij");  // not at a word start
  EXPECT_EQ(mask_secret_shapes("plain text, nothing secret"), "plain text, nothing secret");
}

TEST(Capture, JsonPointers) {
  EXPECT_EQ(parse_json_pointer("/arguments/ssn"), (std::vector<std::string>{"arguments", "ssn"}));
  EXPECT_EQ(parse_json_pointer("/a~1b/c~0d"), (std::vector<std::string>{"a/b", "c~d"}));
  EXPECT_EQ(parse_json_pointer(""), std::vector<std::string>{});
  EXPECT_EQ(parse_json_pointer("/"), std::vector<std::string>{""});
  EXPECT_FALSE(parse_json_pointer("$.arguments.ssn"));
  EXPECT_FALSE(parse_json_pointer("/a~2"));
  EXPECT_TRUE(capture_config_error(make_config(CaptureMode::redacted, {"/ok", "arguments"})));
  EXPECT_FALSE(capture_config_error(make_config(CaptureMode::redacted, {"/ok", "/x/*/y"})));
}

TEST(Capture, RedactedMasksKeysPathsAndShapes) {
  auto config = make_config(CaptureMode::redacted,
                            {"/arguments/ssn", "/arguments/users/*/email", "/missing/path"});
  PayloadCapture c(config);
  auto out = c.capture(json::parse(R"({
    "name": "lookup",
    "arguments": {
      "ssn": 123456789, "query": "find me", "max_tokens": 100,
      "auth": {"Password": "hunter2", "nested": {"api_key": ["a", "b"]}},
      "users": [{"email": "a@example.com", "id": 1}, {"email": "b@example.com", "id": 2}],
      "header": "Authorization: Bearer 0123456789abcdef",
      "list": ["sk-proj-0123456789abcdefXYZ", 7]
    }
  })"));
  ASSERT_TRUE(out);
  EXPECT_EQ(json::parse(*out), json::parse(R"({
    "name": "lookup",
    "arguments": {
      "ssn": "***", "query": "find me", "max_tokens": 100,
      "auth": "***",
      "users": [{"email": "***", "id": 1}, {"email": "***", "id": 2}],
      "header": "Authorization: Bearer ***",
      "list": ["***", 7]
    }
  })"));
}

TEST(Capture, RedactEverythingWithEmptyPointer) {
  EXPECT_EQ(redact_payload(json::parse(R"({"a":1})"), {""}), json::value("***"));
}

TEST(Capture, CapTruncatesToValidJsonWithinTheLimit) {
  std::string big =
      json::serialize(json::object{{"text", std::string(5000, 'x') + "\"\\\xC3\xA9"}});
  EXPECT_EQ(cap_payload(big, big.size()), big);
  for (std::size_t cap : {128u, 200u, 1000u, 4999u}) {
    auto out = cap_payload(big, cap);
    EXPECT_LE(out.size(), cap);
    auto v = json::parse(out);
    EXPECT_TRUE(v.at("_truncated").as_bool());
    EXPECT_EQ(v.at("bytes").to_number<std::size_t>(), big.size());
    auto prefix = std::string(v.at("prefix").as_string());
    EXPECT_EQ(big.substr(0, prefix.size()), prefix);
    EXPECT_GT(prefix.size(), cap / 2);
  }
  // Escape-heavy text still ends within the cap, cut on a UTF-8 boundary.
  std::string quotes =
      json::serialize(json::value(std::string(3000, '"') + "\xE2\x82\xAC\xE2\x82\xAC"));
  auto out = cap_payload(quotes, 300);
  EXPECT_LE(out.size(), 300u);
  EXPECT_NO_THROW(json::parse(out));
  // Caps below the floor are raised to it.
  EXPECT_LE(cap_payload(big, 10).size(), kMinPayloadCap);

  PayloadCapture c(make_config(CaptureMode::full, {}, 256));
  auto captured = c.capture(json::parse(big));
  ASSERT_TRUE(captured);
  EXPECT_LE(captured->size(), 256u);
}

}  // namespace
}  // namespace bastion::record
