#include "guard/auth_guard.hpp"

#include <spdlog/spdlog.h>

#include "guard/auth/resource_metadata.hpp"

namespace bastion::guard {

namespace asio = boost::asio;
namespace http = net::http;

AuthGuard::AuthGuard(std::shared_ptr<const Authenticators> authenticators) : auth_(std::move(authenticators)) {}

bool AuthGuard::protects(std::string_view path) {
  return path == "/mcp" || path.rfind("/mcp/", 0) == 0;
}

Rejection AuthGuard::unauthorized(std::string reason, std::string description) const {
  Rejection r{http::status::unauthorized, "auth_" + reason, "Unauthorized: " + description};
  std::string challenge = reason == "missing_token"
                              ? auth::unauthorized_challenge(auth_->metadata_url, auth_->required_scopes)
                              : auth::invalid_token_challenge(auth_->metadata_url, description);
  r.headers.emplace_back("WWW-Authenticate", std::move(challenge));
  return r;
}

Rejection AuthGuard::forbidden_scope(std::string reason) const {
  Rejection r{http::status::forbidden, "auth_" + reason, "Forbidden: insufficient scope"};
  r.headers.emplace_back("WWW-Authenticate",
                         auth::insufficient_scope_challenge(auth_->metadata_url, auth_->required_scopes));
  return r;
}

std::optional<Rejection> AuthGuard::accept(const auth::Principal& principal, RequestContext& ctx) const {
  for (const auto& needed : auth_->required_scopes) {
    bool has = false;
    for (const auto& s : principal.scopes) has = has || s == needed;
    if (!has) return forbidden_scope("insufficient_scope");
  }
  ctx.caller.name = principal.name;
  ctx.caller.kind = principal.kind;
  ctx.caller.scopes = principal.scopes;
  ctx.caller.tools = principal.tools;
  ctx.caller.authenticated = true;
  return std::nullopt;
}

namespace {

std::optional<std::string_view> bearer_token(const net::Request& req) {
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return std::nullopt;
  std::string_view v(it->value().data(), it->value().size());
  if (v.size() <= 7) return std::string_view{};
  auto scheme = v.substr(0, 7);
  if (scheme != "Bearer " && scheme != "bearer " && scheme != "BEARER ") return std::string_view{};
  v.remove_prefix(7);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  return v;
}

bool looks_like_jwt(std::string_view token) {
  return std::count(token.begin(), token.end(), '.') == 2;
}

}  // namespace

bool AuthGuard::asynchronous() const { return auth_->jwt || auth_->jwks || auth_->auth_request; }

std::optional<Rejection> AuthGuard::check_token(const auth::TokenStore& tokens, std::string_view token,
                                                RequestContext& ctx) const {
  if (auto principal = tokens.verify(token)) return accept(*principal, ctx);
  return unauthorized("invalid_token", "the token is not valid");
}

// Bastion tokens alone need no waiting: checked here without a coroutine per request.
std::optional<Rejection> AuthGuard::check(RequestContext& ctx) const {
  if (asynchronous() || !auth_->any() || !protects(ctx.path)) return std::nullopt;  // see check_async
  auto token = bearer_token(ctx.request);
  if (!token) return unauthorized("missing_token", "a bearer token is required");
  if (token->empty()) return unauthorized("invalid_request", "malformed Authorization header");
  if (token->rfind("bst_", 0) == 0) return check_token(*auth_->tokens, *token, ctx);
  return unauthorized("invalid_token", "the token is not valid");
}

asio::awaitable<std::optional<Rejection>> AuthGuard::check_async(RequestContext& ctx) const {
  if (!auth_->any() || !protects(ctx.path)) co_return std::nullopt;
  auto token = bearer_token(ctx.request);
  if (token && !token->empty()) {
    if (auth_->tokens && token->rfind("bst_", 0) == 0) co_return check_token(*auth_->tokens, *token, ctx);
    if (auth_->jwt && auth_->jwks && looks_like_jwt(*token)) {
      auto verified = co_await auth_->jwks->verify(*auth_->jwt, std::string(*token), std::chrono::system_clock::now());
      if (verified) co_return accept(*verified, ctx);
      const auto reason = std::string(auth::jwt_failure_reason(verified.error()));
      if (verified.error() == auth::JwtErrc::insufficient_scope) co_return forbidden_scope(reason);
      co_return unauthorized("jwt_" + reason, "the token is not valid (" + reason + ")");
    }
  } else if (token) {
    co_return unauthorized("invalid_request", "malformed Authorization header");
  }
  if (auth_->auth_request) {
    // nginx auth_request: the subrequest sees the original headers and decides.
    std::string method(ctx.request.method_string());
    std::string uri(ctx.request.target());
    auto decision = co_await auth_->auth_request->check(std::move(method), std::move(uri), ctx.request.base());
    switch (decision.outcome) {
      case auth::AuthRequestOutcome::allow:
        if (decision.principal) co_return accept(*decision.principal, ctx);
        co_return std::nullopt;
      case auth::AuthRequestOutcome::deny: {
        Rejection r{decision.status == 403 ? http::status::forbidden : http::status::unauthorized,
                    decision.status == 403 ? "auth_request_forbidden" : "auth_request_denied",
                    decision.status == 403 ? "Forbidden" : "Unauthorized"};
        if (!decision.www_authenticate.empty()) r.headers.emplace_back("WWW-Authenticate", decision.www_authenticate);
        co_return r;
      }
      case auth::AuthRequestOutcome::error:
        spdlog::warn("auth_request failed: {}", decision.error);
        co_return Rejection{http::status::internal_server_error, "auth_request_error",
                            "Internal Server Error: the authorization service did not answer"};
    }
  }
  if (token && !token->empty()) co_return unauthorized("invalid_token", "the token is not valid");
  co_return unauthorized("missing_token", "a bearer token is required");
}

}  // namespace bastion::guard
