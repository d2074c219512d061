#include "guard/auth/resource_metadata.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace bastion::guard::auth {
namespace {

TEST(ResourceMetadata, DocumentShape) {
  ResourceMetadata m;
  m.resource = "https://mcp.example.com/mcp";
  m.authorization_servers = {"https://idp.example.com"};
  m.scopes_supported = {"mcp:read", "mcp:write"};
  EXPECT_EQ(resource_metadata_document(m),
            R"({"resource":"https://mcp.example.com/mcp","authorization_servers":["https://idp.example.com"],)"
            R"("scopes_supported":["mcp:read","mcp:write"],"bearer_methods_supported":["header"]})");
  m.scopes_supported.clear();
  m.resource_name = "Bastion";
  auto o = resource_metadata_json(m);
  EXPECT_FALSE(o.contains("scopes_supported"));
  EXPECT_EQ(o.at("resource_name"), "Bastion");
}

TEST(ResourceMetadata, WellKnownUrlRule) {
  EXPECT_EQ(*metadata_url_for("https://host/mcp"), "https://host/.well-known/oauth-protected-resource/mcp");
  EXPECT_EQ(*metadata_url_for("https://host:8443/a/b"),
            "https://host:8443/.well-known/oauth-protected-resource/a/b");
  EXPECT_EQ(*metadata_url_for("https://host"), "https://host/.well-known/oauth-protected-resource");
  EXPECT_EQ(*metadata_url_for("https://host/"), "https://host/.well-known/oauth-protected-resource");
  EXPECT_EQ(*metadata_url_for("http://127.0.0.1:8080/mcp?x=1"),
            "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp?x=1");
  EXPECT_EQ(*metadata_url_for("https://host/?x=1"), "https://host/.well-known/oauth-protected-resource?x=1");
  EXPECT_FALSE(metadata_url_for("https://host/mcp#frag"));
  EXPECT_FALSE(metadata_url_for("ftp://host/mcp"));
  EXPECT_FALSE(metadata_url_for("/mcp"));
  EXPECT_FALSE(metadata_url_for("https:///mcp"));
  EXPECT_FALSE(metadata_url_for("https://u:p@host/mcp"));
  EXPECT_FALSE(metadata_url_for("https://host/m cp"));

  EXPECT_EQ(metadata_path_for("/mcp"), "/.well-known/oauth-protected-resource/mcp");
  EXPECT_EQ(metadata_path_for("/mcp/demo"), "/.well-known/oauth-protected-resource/mcp/demo");
  EXPECT_EQ(metadata_path_for("/"), "/.well-known/oauth-protected-resource");
  EXPECT_EQ(metadata_path_for(""), "/.well-known/oauth-protected-resource");
}

TEST(ResourceMetadata, Challenges) {
  const std::string url = "https://host/.well-known/oauth-protected-resource/mcp";
  EXPECT_EQ(unauthorized_challenge(url, {"mcp:read", "mcp:write"}),
            R"(Bearer resource_metadata="https://host/.well-known/oauth-protected-resource/mcp", scope="mcp:read mcp:write")");
  EXPECT_EQ(unauthorized_challenge(url, {}),
            R"(Bearer resource_metadata="https://host/.well-known/oauth-protected-resource/mcp")");
  EXPECT_EQ(insufficient_scope_challenge(url, {"mcp:admin"}),
            R"(Bearer error="insufficient_scope", scope="mcp:admin", resource_metadata="https://host/.well-known/oauth-protected-resource/mcp")");
  EXPECT_EQ(insufficient_scope_challenge(url, {"a"}, "needs \"a\"\r\nX-Evil: 1"),
            R"(Bearer error="insufficient_scope", scope="a", resource_metadata="https://host/.well-known/oauth-protected-resource/mcp", error_description="needs aX-Evil: 1")");
  EXPECT_EQ(invalid_token_challenge(url, "expired"),
            R"(Bearer error="invalid_token", resource_metadata="https://host/.well-known/oauth-protected-resource/mcp", error_description="expired")");
}

TEST(ResourceMetadata, QuotingEscapesAndStripsControls) {
  EXPECT_EQ(quote_header_value(R"(a"b\c)"), R"("a\"b\\c")");
  EXPECT_EQ(quote_header_value("a\r\nb\x7f\t"), R"("ab")");
  EXPECT_EQ(www_authenticate({"", {"x\"y"}, "", ""}), R"(Bearer scope="x\"y")");
  EXPECT_EQ(www_authenticate({}), "Bearer");
}

}  // namespace
}  // namespace bastion::guard::auth
