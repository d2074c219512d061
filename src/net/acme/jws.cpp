#include "net/acme/jws.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <boost/json/serialize.hpp>

#include "net/acme/atomic_file.hpp"

namespace bastion::net::acme {

namespace {

using boost::system::errc::make_error_code;
using errc = boost::system::errc::errc_t;

struct BioFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
struct SigFree {
  void operator()(ECDSA_SIG* s) const noexcept { ECDSA_SIG_free(s); }
};
struct BnFree {
  void operator()(BIGNUM* b) const noexcept { BN_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

bool is_p256(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1) {
    return false;
  }
  std::string_view name(group, len);
  return name == "prime256v1" || name == "P-256";
}

std::string bn_fixed(const BIGNUM* bn, std::size_t width) {
  std::string out(width, '\0');
  if (BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(width)) < 0) return {};
  return out;
}

}  // namespace

void EcKey::Free::operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }

boost::system::result<EcKey> EcKey::generate() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (key == nullptr) return make_error_code(errc::not_enough_memory);
  return EcKey(key);
}

boost::system::result<EcKey> EcKey::from_pem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return make_error_code(errc::not_enough_memory);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) return make_error_code(errc::invalid_argument);
  EcKey out(key);
  if (!is_p256(key)) return make_error_code(errc::not_supported);
  return out;
}

boost::system::result<EcKey> EcKey::load(const std::filesystem::path& file) {
  auto pem = read_file_limited(file, 64 * 1024);
  if (!pem) return pem.error();
  return from_pem(*pem);
}

std::string EcKey::private_pem() const {
  if (!key_) return {};
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return {};
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

boost::system::result<void> EcKey::save(const std::filesystem::path& file) const {
  auto pem = private_pem();
  if (pem.empty()) return make_error_code(errc::invalid_argument);
  auto r = write_file_atomic(file, pem, 0600);
  // Key material in freed heap memory is a gift to core dumps.
  OPENSSL_cleanse(pem.data(), pem.size());
  return r;
}

std::pair<std::string, std::string> EcKey::public_xy() const {
  if (!key_) return {};
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x);
  EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &y);
  BnPtr xp(x), yp(y);
  if (!x || !y) return {};
  return {bn_fixed(x, 32), bn_fixed(y, 32)};
}

boost::json::object public_jwk(const EcKey& key) {
  auto [x, y] = key.public_xy();
  boost::json::object jwk;
  jwk["crv"] = "P-256";
  jwk["kty"] = "EC";
  jwk["x"] = base64url_encode(x);
  jwk["y"] = base64url_encode(y);
  return jwk;
}

std::string canonical_jwk(const std::vector<std::pair<std::string, std::string>>& members) {
  auto sorted = members;
  std::sort(sorted.begin(), sorted.end());
  // Member values of the required JWK members are plain ASCII (names, base64url), so the
  // serializer's escaping equals RFC 7638's "no whitespace, lexicographic order" form.
  std::string out = "{";
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (i) out += ',';
    out += boost::json::serialize(boost::json::value(sorted[i].first));
    out += ':';
    out += boost::json::serialize(boost::json::value(sorted[i].second));
  }
  out += '}';
  return out;
}

std::string thumbprint_of_canonical(std::string_view canonical_json) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(canonical_json.data()), canonical_json.size(), digest);
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string jwk_thumbprint(const EcKey& key) {
  auto [x, y] = key.public_xy();
  return thumbprint_of_canonical(
      canonical_jwk({{"crv", "P-256"}, {"kty", "EC"}, {"x", base64url_encode(x)}, {"y", base64url_encode(y)}}));
}

std::string key_authorization(std::string_view token, std::string_view thumbprint) {
  std::string out(token);
  out += '.';
  out += thumbprint;
  return out;
}

std::optional<std::string> ecdsa_der_to_raw(std::string_view der, std::size_t half) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, SigFree> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) return std::nullopt;
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  if (BN_num_bytes(r) > static_cast<int>(half) || BN_num_bytes(s) > static_cast<int>(half)) return std::nullopt;
  auto out = bn_fixed(r, half) + bn_fixed(s, half);
  if (out.size() != 2 * half) return std::nullopt;
  return out;
}

std::optional<std::string> ecdsa_raw_to_der(std::string_view raw) {
  if (raw.empty() || raw.size() % 2 != 0) return std::nullopt;
  const auto half = raw.size() / 2;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  BnPtr r(BN_bin2bn(bytes, static_cast<int>(half), nullptr));
  BnPtr s(BN_bin2bn(bytes + half, static_cast<int>(half), nullptr));
  std::unique_ptr<ECDSA_SIG, SigFree> sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  r.release();  // owned by sig now
  s.release();
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return std::nullopt;
  std::string out(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  i2d_ECDSA_SIG(sig.get(), &p);
  return out;
}

boost::system::result<std::string> sign_es256(const EcKey& key, std::string_view data) {
  if (!key.valid()) return make_error_code(errc::invalid_argument);
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1) {
    return make_error_code(errc::not_supported);
  }
  std::size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) != 1) return make_error_code(errc::not_supported);
  std::string der(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &len, in, data.size()) != 1) {
    return make_error_code(errc::not_supported);
  }
  der.resize(len);
  auto raw = ecdsa_der_to_raw(der, 32);
  if (!raw) return make_error_code(errc::not_supported);
  return *raw;
}

boost::system::result<std::string> sign_request(const EcKey& key, const JwsRequest& request) {
  boost::json::object header;
  header["alg"] = "ES256";
  if (request.kid) {
    header["kid"] = *request.kid;
  } else {
    header["jwk"] = public_jwk(key);
  }
  header["nonce"] = request.nonce;
  header["url"] = request.url;
  const auto protected_b64 = base64url_encode(boost::json::serialize(header));
  const auto payload_b64 = request.payload ? base64url_encode(*request.payload) : std::string();
  auto signature = sign_es256(key, protected_b64 + "." + payload_b64);
  if (!signature) return signature.error();
  boost::json::object jws;
  jws["protected"] = protected_b64;
  jws["payload"] = payload_b64;
  jws["signature"] = base64url_encode(*signature);
  return boost::json::serialize(jws);
}

}  // namespace bastion::net::acme
