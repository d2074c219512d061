#pragma once
// OAuth 2.0 Protected Resource Metadata (RFC 9728) as the MCP authorization spec (2025-11-25)
// asks of a resource server, and the RFC 6750 WWW-Authenticate challenges that point to it.
// No Asio here.
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bastion::guard::auth {

struct ResourceMetadata {
  std::string resource;                            // e.g. "https://host/mcp" (no fragment)
  std::vector<std::string> authorization_servers;  // issuer URLs
  std::vector<std::string> scopes_supported;       // omitted from the document when empty
  std::vector<std::string> bearer_methods_supported{"header"};
  std::optional<std::string> resource_name;
  std::optional<std::string> resource_documentation;
};

// {"resource":..,"authorization_servers":[..],"scopes_supported":[..],
//  "bearer_methods_supported":["header"], ...}
boost::json::object resource_metadata_json(const ResourceMetadata& metadata);
std::string resource_metadata_document(const ResourceMetadata& metadata);  // serialised

// Where RFC 9728 §3.1 puts the metadata for a resource: "/.well-known/oauth-protected-resource"
// goes between the authority and the path (and query):
//   https://host/mcp       -> https://host/.well-known/oauth-protected-resource/mcp
//   https://host/ or host  -> https://host/.well-known/oauth-protected-resource
// std::nullopt for anything that is not an absolute http(s) URL, or has a fragment.
std::optional<std::string> metadata_url_for(std::string_view resource);
// The same for a request path only (what the HTTP router serves):
//   "/mcp" -> "/.well-known/oauth-protected-resource/mcp", "" or "/" -> the root form.
std::string metadata_path_for(std::string_view resource_path);
inline constexpr std::string_view kWellKnownProtectedResource = "/.well-known/oauth-protected-resource";

// One "Bearer" challenge (RFC 6750 §3). Empty fields are left out. Order:
// error, scope, resource_metadata, error_description.
struct BearerChallenge {
  std::string error;  // "" | "invalid_request" | "invalid_token" | "insufficient_scope"
  std::vector<std::string> scopes;  // joined with spaces into scope="..."
  std::string resource_metadata;    // metadata URL
  std::string error_description;    // human text; characters RFC 6750 forbids are dropped
};
std::string www_authenticate(const BearerChallenge& challenge);

// 401 without (or with an unusable) token:
//   Bearer resource_metadata="https://host/.well-known/oauth-protected-resource/mcp", scope="a b"
std::string unauthorized_challenge(std::string_view metadata_url,
                                   const std::vector<std::string>& scopes);
// 401 for a token that was presented and refused:
//   Bearer error="invalid_token", resource_metadata="...", error_description="..."
std::string invalid_token_challenge(std::string_view metadata_url, std::string_view description);
// 403 for a valid token lacking scopes:
//   Bearer error="insufficient_scope", scope="...", resource_metadata="...", error_description=".."
std::string insufficient_scope_challenge(std::string_view metadata_url,
                                         const std::vector<std::string>& scopes,
                                         std::string_view description = {});

// RFC 7230 quoted-string: backslash-escapes '"' and '\', drops CR, LF and other controls (so a
// value can never split a header).
std::string quote_header_value(std::string_view value);

}  // namespace bastion::guard::auth
