#include "guard/auth/jwt_test_signer.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <boost/json.hpp>
#include <stdexcept>

#include "guard/auth/encoding.hpp"

namespace bastion::guard::auth::testing {
namespace json = boost::json;

namespace {

std::shared_ptr<EVP_PKEY> wrap(EVP_PKEY* p) {
  if (p == nullptr) throw std::runtime_error("key generation failed");
  return {p, EVP_PKEY_free};
}

std::string bn_param(EVP_PKEY* key, const char* name, int width = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) throw std::runtime_error("no key parameter");
  const int len = width > 0 ? width : BN_num_bytes(bn);
  std::string out(static_cast<std::size_t>(len), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), len);
  BN_free(bn);
  return out;
}

}  // namespace

TestKey make_rsa_key(std::string kid, int bits) {
  return {wrap(EVP_RSA_gen(static_cast<unsigned>(bits))), JwsAlg::rs256, std::move(kid)};
}

TestKey make_ec_key(std::string kid) {
  return {wrap(EVP_EC_gen("P-256")), JwsAlg::es256, std::move(kid)};
}

TestKey make_ed25519_key(std::string kid) {
  return {wrap(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")), JwsAlg::eddsa, std::move(kid)};
}

json::object TestKey::jwk(bool with_alg) const {
  json::object o;
  switch (alg) {
    case JwsAlg::rs256:
      o["kty"] = "RSA";
      o["n"] = base64url_encode(bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_N));
      o["e"] = base64url_encode(bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_E));
      break;
    case JwsAlg::es256:
      o["kty"] = "EC";
      o["crv"] = "P-256";
      o["x"] = base64url_encode(bn_param(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32));
      o["y"] = base64url_encode(bn_param(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32));
      break;
    case JwsAlg::eddsa: {
      std::string raw(32, '\0');
      std::size_t len = raw.size();
      EVP_PKEY_get_raw_public_key(pkey.get(), reinterpret_cast<unsigned char*>(raw.data()), &len);
      o["kty"] = "OKP";
      o["crv"] = "Ed25519";
      o["x"] = base64url_encode(raw);
      break;
    }
  }
  if (!kid.empty()) o["kid"] = kid;
  if (with_alg) {
    o["alg"] = std::string(to_string(alg));
    o["use"] = "sig";
  }
  return o;
}

std::string jwks_json(const std::vector<const TestKey*>& keys) {
  json::array arr;
  for (const auto* k : keys) arr.push_back(k->jwk());
  json::object doc;
  doc["keys"] = std::move(arr);
  return json::serialize(doc);
}

std::string sign_compact(const TestKey& key, const std::string& header_json,
                         const std::string& payload_json) {
  const std::string input = base64url_encode(header_json) + "." + base64url_encode(payload_json);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const EVP_MD* md = key.alg == JwsAlg::eddsa ? nullptr : EVP_sha256();
  if (EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key.pkey.get()) != 1) {
    throw std::runtime_error("sign init failed");
  }
  std::size_t len = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size());
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data,
                     input.size()) != 1) {
    throw std::runtime_error("sign failed");
  }
  sig.resize(len);
  if (key.alg == JwsAlg::es256) {  // DER -> JOSE r||s
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(es);
    sig = raw;
  }
  return input + "." + base64url_encode(sig);
}

std::string sign_jwt(const TestKey& key, const json::object& claims) {
  json::object header;
  header["alg"] = std::string(to_string(key.alg));
  if (!key.kid.empty()) header["kid"] = key.kid;
  header["typ"] = "at+jwt";
  return sign_compact(key, json::serialize(header), json::serialize(claims));
}

}  // namespace bastion::guard::auth::testing
