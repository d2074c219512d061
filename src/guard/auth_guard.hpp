#pragma once
// Authentication of MCP requests: Bastion bearer tokens (hashed in the tokens file), JWTs from
// an OAuth 2.1 authorization server (RFC 9728 resource server, audience = this resource), or an
// nginx-style auth_request subrequest. A 401 always carries `WWW-Authenticate: Bearer
// resource_metadata=...` so MCP clients can discover the authorization server; a valid token
// without the required scopes is a 403 insufficient_scope. The client's token is never passed
// upstream: upstreams get their own configured credentials.
#include <memory>

#include "guard/auth/auth_request.hpp"
#include "guard/auth/jwks_cache.hpp"
#include "guard/auth/jwt.hpp"
#include "guard/auth/token_store.hpp"
#include "guard/guard.hpp"

namespace bastion::guard {

struct Authenticators {
  std::optional<auth::TokenStore> tokens;
  std::shared_ptr<auth::JwksCache> jwks;
  std::optional<auth::JwtVerifier> jwt;
  std::shared_ptr<auth::AuthRequestClient> auth_request;
  std::vector<std::string> required_scopes;
  std::string metadata_url;  // RFC 9728 document for this resource ("" without a resource URI)
  bool any() const { return tokens || jwt || auth_request; }
};

class AuthGuard final : public Guard {
 public:
  explicit AuthGuard(std::shared_ptr<const Authenticators> authenticators);
  std::string_view name() const override { return "authentication"; }
  // Only JWTs (keys fetched on demand) and auth_request wait; Bastion tokens are checked inline.
  bool asynchronous() const override;
  std::optional<Rejection> check(RequestContext& ctx) const override;
  boost::asio::awaitable<std::optional<Rejection>> check_async(RequestContext& ctx) const override;

  // Only MCP endpoints need credentials; /healthz and the RFC 9728 document stay public.
  static bool protects(std::string_view path);

 private:
  Rejection unauthorized(std::string reason, std::string description) const;
  Rejection forbidden_scope(std::string reason) const;
  std::optional<Rejection> check_token(const auth::TokenStore& tokens, std::string_view token,
                                       RequestContext& ctx) const;
  std::optional<Rejection> accept(const auth::Principal& principal, RequestContext& ctx) const;
  std::shared_ptr<const Authenticators> auth_;
};

}  // namespace bastion::guard
