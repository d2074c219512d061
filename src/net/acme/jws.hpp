#pragma once
// ACME account keys and request signing (RFC 8555 §6.2, RFC 7515, RFC 7638). Pure: no Asio.
// Keys are EC P-256; signatures are ES256 with the raw r||s encoding JWS requires (not DER).
#include <openssl/types.h>

#include <boost/json/object.hpp>
#include <boost/system/result.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base64url.hpp"

namespace bastion::net::acme {

// ACME's base64url (RFC 8555 §6.1): the project's one strict codec.
using core::base64url_decode;
using core::base64url_encode;

// An EC P-256 private key (account key or certificate key). Move-only.
class EcKey {
 public:
  EcKey() = default;
  explicit EcKey(EVP_PKEY* owned) : key_(owned) {}

  static boost::system::result<EcKey> generate();
  // PKCS#8 PEM; fails unless the key is EC P-256.
  static boost::system::result<EcKey> from_pem(std::string_view pem);
  static boost::system::result<EcKey> load(const std::filesystem::path& file);
  // Writes the PEM with mode 0600 through a temporary file and rename (never half-written).
  boost::system::result<void> save(const std::filesystem::path& file) const;

  bool valid() const noexcept { return key_ != nullptr; }
  EVP_PKEY* get() const noexcept { return key_.get(); }
  std::string private_pem() const;  // empty when !valid()
  // Uncompressed public point coordinates, 32 bytes each.
  std::pair<std::string, std::string> public_xy() const;

 private:
  struct Free {
    void operator()(EVP_PKEY* key) const noexcept;
  };
  std::unique_ptr<EVP_PKEY, Free> key_;
};

// {"crv":"P-256","kty":"EC","x":...,"y":...}: the public JWK, members in RFC 7638 order.
boost::json::object public_jwk(const EcKey& key);
// RFC 7638 canonical form of the required members: sorted names, no whitespace.
std::string canonical_jwk(const std::vector<std::pair<std::string, std::string>>& members);
// base64url(SHA-256(canonical JWK)).
std::string jwk_thumbprint(const EcKey& key);
std::string thumbprint_of_canonical(std::string_view canonical_json);
// RFC 8555 §8.1: token "." thumbprint.
std::string key_authorization(std::string_view token, std::string_view thumbprint);

// ES256 over `data`: 64 bytes r||s. Fails only on an OpenSSL error.
boost::system::result<std::string> sign_es256(const EcKey& key, std::string_view data);
// Converts between OpenSSL's DER ECDSA-Sig-Value and JWS's fixed-width r||s (32 + 32 bytes).
std::optional<std::string> ecdsa_der_to_raw(std::string_view der, std::size_t half = 32);
std::optional<std::string> ecdsa_raw_to_der(std::string_view raw);

// Flattened JWS JSON serialisation (RFC 7515 §7.2.2) for an ACME request. With `kid` the
// protected header names the account URL; without it the header carries the public JWK
// (newAccount). Without a payload the request is a POST-as-GET (payload "").
struct JwsRequest {
  std::string url;
  std::string nonce;
  std::optional<std::string> kid;
  std::optional<std::string> payload;  // JSON text; nullopt = POST-as-GET
};
boost::system::result<std::string> sign_request(const EcKey& key, const JwsRequest& request);

}  // namespace bastion::net::acme
