#pragma once
// JWT access tokens (RFC 7519 / RFC 9068) signed as compact JWS (RFC 7515), verified against a
// JWKS (RFC 7517). Only asymmetric algorithms: RS256, ES256, EdDSA (Ed25519). "none", HS* and
// every other alg are rejected, and the key's type must match the header's alg (no alg
// confusion). Header-supplied keys (jwk, jku, x5u, x5c) are never used. No Asio here.
#include <openssl/types.h>

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "guard/auth/principal.hpp"

namespace bastion::guard::auth {

// Why a JWT was refused. The stable strings (jwt_failure_reason) label
// bastion_auth_failures_total{reason}.
enum class JwtErrc {
  malformed = 1,       // not three base64url parts, bad JSON, missing sub/exp, crit header, too big
  unsupported_alg,     // alg not in {RS256, ES256, EdDSA}, or not usable with the kid's key type
  unknown_kid,         // no key in the JWKS for this kid (the cache may refresh once)
  bad_signature,       // signature does not verify
  expired,             // exp (+ leeway) has passed
  not_yet_valid,       // nbf (- leeway) lies in the future
  wrong_issuer,        // iss missing or not the configured issuer
  wrong_audience,      // aud missing or does not contain the configured audience
  insufficient_scope,  // valid token without every required scope (HTTP 403, not 401)
};

const boost::system::error_category& jwt_category() noexcept;
boost::system::error_code make_error_code(JwtErrc e) noexcept;
// "malformed", "unsupported_alg", "unknown_kid", "bad_signature", "expired", "not_yet_valid",
// "wrong_issuer", "wrong_audience", "insufficient_scope".
std::string_view jwt_failure_reason(JwtErrc e) noexcept;
// The same for an error_code from JwtVerifier::verify ("malformed" for any foreign code).
std::string_view jwt_failure_reason(const boost::system::error_code& ec) noexcept;

enum class JwsAlg { rs256, es256, eddsa };
std::optional<JwsAlg> parse_jws_alg(std::string_view name);  // exact, case-sensitive
std::string_view to_string(JwsAlg alg) noexcept;             // "RS256", "ES256", "EdDSA"

// One public key usable for exactly one algorithm.
struct Jwk {
  std::string kid;  // may be empty
  JwsAlg alg;
  std::shared_ptr<EVP_PKEY> key;  // immutable; shared between copies and threads
};

class Jwks;

struct JwksParseResult {
  std::shared_ptr<const Jwks> jwks;  // set when the document was usable (maybe with 0 keys)
  std::string error;                 // set when it was not (not JSON, no "keys" array, ...)
  std::vector<std::string> ignored;  // one note per skipped key (unsupported kty/crv/alg, bad key)
  bool ok() const { return jwks != nullptr; }
};

// An immutable key set.
class Jwks {
 public:
  static constexpr std::size_t kMaxDocumentBytes = 1u << 20;
  static constexpr std::size_t kMaxKeys = 100;

  // {"keys":[...]}: unsupported keys are skipped (noted in `ignored`), garbage is an error.
  static JwksParseResult parse(std::string_view text);

  // The key to check a token with this header: by kid when the token names one, else the only
  // key of the right type. Errors: unknown_kid, or unsupported_alg when the kid's keys are of
  // another type than `alg` asks for.
  boost::system::result<const Jwk*> select(std::string_view kid, bool has_kid, JwsAlg alg) const;

  const std::vector<Jwk>& keys() const { return keys_; }
  std::size_t size() const { return keys_.size(); }

 private:
  std::vector<Jwk> keys_;
};

// Builds a Jwk from one JWK JSON object text (used by parse; handy in tests). On failure returns
// std::nullopt and sets `why`.
std::optional<Jwk> parse_jwk(std::string_view json_object, std::string* why = nullptr);

// Checks the signature of a compact JWS's "header.payload" with a key (strict: ES256 signatures
// are 64-byte raw r||s).
bool verify_jws_signature(const Jwk& key, std::string_view signing_input,
                          std::string_view signature);

// Validates access tokens for one resource server. Immutable after set-up; verify() is safe from
// any thread.
struct JwtVerifier {
  std::string issuer;    // exact match with "iss"; empty = every token is wrong_issuer
  std::string audience;  // must equal "aud" or be one of its elements; empty = wrong_audience
  std::chrono::seconds leeway{60};  // clock skew allowed on exp and nbf
  std::vector<std::string> required_scopes{};  // all needed, else insufficient_scope
  std::string tools_claim = "bastion_tools";  // array (or space-separated string) of tool globs
  std::size_t max_token_bytes = 16 * 1024;

  // Principal kind "jwt": name = sub (else client_id), scopes from "scope" (space-separated) or
  // "scp" (array or string), tools from tools_claim (absent = all tools). Claims are looked at
  // only after the signature verified.
  boost::system::result<Principal> verify(std::string_view token, const Jwks& keys,
                                          std::chrono::system_clock::time_point now) const;
};

}  // namespace bastion::guard::auth

template <>
struct boost::system::is_error_code_enum<bastion::guard::auth::JwtErrc> : std::true_type {};
