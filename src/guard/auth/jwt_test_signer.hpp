#pragma once
// Test-only JWT issuer: makes RSA / P-256 / Ed25519 keys with OpenSSL, exports them as JWKs and
// signs compact JWS tokens, so tests never depend on fixtures or outside tools.
#include <openssl/types.h>

#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <vector>

#include "guard/auth/jwt.hpp"

namespace bastion::guard::auth::testing {

struct TestKey {
  std::shared_ptr<EVP_PKEY> pkey;  // private key
  JwsAlg alg;
  std::string kid;
  // Public JWK; `with_alg` adds "alg" and "use".
  boost::json::object jwk(bool with_alg = true) const;
};

TestKey make_rsa_key(std::string kid, int bits = 2048);
TestKey make_ec_key(std::string kid);
TestKey make_ed25519_key(std::string kid);

// {"keys":[...]} of the public halves.
std::string jwks_json(const std::vector<const TestKey*>& keys);

// Signs base64url(header) "." base64url(payload) with the key's algorithm, whatever the header
// says (so tests can lie in the header).
std::string sign_compact(const TestKey& key, const std::string& header_json,
                         const std::string& payload_json);
// Header {"alg":<key alg>,"kid":<key kid>,"typ":"at+jwt"} over the claims.
std::string sign_jwt(const TestKey& key, const boost::json::object& claims);

}  // namespace bastion::guard::auth::testing
