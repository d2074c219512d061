#include "guard/auth/jwt.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <boost/json.hpp>
#include <algorithm>
#include <cmath>

#include "guard/auth/encoding.hpp"

namespace bastion::guard::auth {
namespace json = boost::json;
using boost::system::error_code;

namespace {

// boost::system::error_category has a protected non-virtual destructor by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class JwtCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "bastion.jwt"; }
  std::string message(int ev) const override {
    return std::string(jwt_failure_reason(static_cast<JwtErrc>(ev)));
  }
};
#pragma GCC diagnostic pop

// --- OpenSSL ownership helpers -------------------------------------------------------------
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct BldFree {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

std::shared_ptr<EVP_PKEY> pkey_from_params(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  if (!params) return nullptr;
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) return nullptr;
  return std::shared_ptr<EVP_PKEY>(raw, PkeyFree{});
}

BnPtr bn_from(std::string_view bytes) {
  return BnPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                         static_cast<int>(bytes.size()), nullptr));
}

const json::string* get_string(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? &v->get_string() : nullptr;
}

std::optional<std::string> b64_member(const json::object& o, std::string_view key) {
  const auto* s = get_string(o, key);
  if (s == nullptr) return std::nullopt;
  return base64url_decode(*s);
}

std::optional<Jwk> jwk_from_object(const json::object& o, std::string& why) {
  const auto* kty = get_string(o, "kty");
  if (kty == nullptr) {
    why = "no kty";
    return std::nullopt;
  }
  if (const auto* use = o.if_contains("use"); use != nullptr && (!use->is_string() || use->get_string() != "sig")) {
    why = "use is not \"sig\"";
    return std::nullopt;
  }
  if (const auto* ops = o.if_contains("key_ops"); ops != nullptr) {
    bool verify = false;
    if (ops->is_array()) {
      for (const auto& op : ops->get_array()) verify = verify || (op.is_string() && op.get_string() == "verify");
    }
    if (!verify) {
      why = "key_ops without \"verify\"";
      return std::nullopt;
    }
  }
  Jwk jwk;
  if (const auto* kid = o.if_contains("kid"); kid != nullptr) {
    if (!kid->is_string()) {
      why = "kid is not a string";
      return std::nullopt;
    }
    jwk.kid = std::string(kid->get_string());
  }

  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld) {
    why = "out of memory";
    return std::nullopt;
  }
  if (*kty == "RSA") {
    jwk.alg = JwsAlg::rs256;
    auto n = b64_member(o, "n");
    auto e = b64_member(o, "e");
    if (!n || !e || n->empty() || e->empty() || e->size() > 8) {
      why = "RSA key without valid n/e";
      return std::nullopt;
    }
    auto bn_n = bn_from(*n);
    auto bn_e = bn_from(*e);
    if (!bn_n || !bn_e || !BN_is_odd(bn_e.get()) || BN_is_one(bn_e.get())) {
      why = "RSA key with invalid n/e";
      return std::nullopt;
    }
    // Below 2048 bits is breakable; above 8192 only costs us CPU per request.
    const int bits = BN_num_bits(bn_n.get());
    if (bits < 2048 || bits > 8192) {
      why = "RSA modulus of " + std::to_string(bits) + " bits (2048-8192 accepted)";
      return std::nullopt;
    }
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get());
    jwk.key = pkey_from_params("RSA", bld.get());
  } else if (*kty == "EC") {
    jwk.alg = JwsAlg::es256;
    const auto* crv = get_string(o, "crv");
    if (crv == nullptr || *crv != "P-256") {
      why = "EC curve other than P-256";
      return std::nullopt;
    }
    auto x = b64_member(o, "x");
    auto y = b64_member(o, "y");
    if (!x || !y || x->size() != 32 || y->size() != 32) {
      why = "EC key without 32-byte x/y";
      return std::nullopt;
    }
    std::string point = "\x04" + *x + *y;  // SEC1 uncompressed; decoding checks it is on the curve
    OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
    jwk.key = pkey_from_params("EC", bld.get());
  } else if (*kty == "OKP") {
    jwk.alg = JwsAlg::eddsa;
    const auto* crv = get_string(o, "crv");
    if (crv == nullptr || *crv != "Ed25519") {
      why = "OKP curve other than Ed25519";
      return std::nullopt;
    }
    auto x = b64_member(o, "x");
    if (!x || x->size() != 32) {
      why = "Ed25519 key without 32-byte x";
      return std::nullopt;
    }
    OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, x->data(), x->size());
    jwk.key = pkey_from_params("ED25519", bld.get());
  } else {
    why = "unsupported kty \"" + std::string(*kty) + "\"";  // notably "oct": no shared secrets
    return std::nullopt;
  }
  if (const auto* alg = o.if_contains("alg"); alg != nullptr) {
    auto parsed = alg->is_string() ? parse_jws_alg(alg->get_string()) : std::nullopt;
    if (!parsed || *parsed != jwk.alg) {
      why = "alg does not fit the key type";
      return std::nullopt;
    }
  }
  if (!jwk.key) {
    why = "OpenSSL rejected the key material";
    return std::nullopt;
  }
  return jwk;
}

// JWS ES256 signatures are r||s (32 bytes each); OpenSSL verifies DER.
std::optional<std::string> es256_raw_to_der(std::string_view raw) {
  if (raw.size() != 64) return std::nullopt;
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
  auto r = bn_from(raw.substr(0, 32));
  auto s = bn_from(raw.substr(32));
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  (void)r.release();  // owned by sig now
  (void)s.release();
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return std::nullopt;
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &p) != len) return std::nullopt;
  return der;
}

// NumericDate as whole seconds, clamped to +-2^53 so adding a leeway can never overflow.
std::optional<std::int64_t> numeric_date(const json::value& v) {
  constexpr std::int64_t kLimit = std::int64_t(1) << 53;
  if (v.is_int64()) return std::clamp(v.get_int64(), -kLimit, kLimit);
  if (v.is_uint64()) return v.get_uint64() > std::uint64_t(kLimit) ? kLimit : std::int64_t(v.get_uint64());
  if (v.is_double() && std::isfinite(v.get_double())) {
    return static_cast<std::int64_t>(std::clamp(std::floor(v.get_double()), double(-kLimit), double(kLimit)));
  }
  return std::nullopt;
}

std::optional<std::vector<std::string>> string_list(const json::value& v) {
  std::vector<std::string> out;
  if (v.is_string()) {
    std::string_view s = v.get_string();
    std::size_t pos = 0;
    while (pos < s.size()) {
      const auto end = std::min(s.find(' ', pos), s.size());
      if (end > pos) out.emplace_back(s.substr(pos, end - pos));
      pos = end + 1;
    }
    return out;
  }
  if (v.is_array()) {
    for (const auto& item : v.get_array()) {
      if (!item.is_string()) return std::nullopt;
      out.emplace_back(item.get_string());
    }
    return out;
  }
  return std::nullopt;
}

std::optional<json::object> parse_object(std::string_view b64) {
  auto text = base64url_decode(b64);
  if (!text) return std::nullopt;
  error_code ec;
  auto v = json::parse(*text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.get_object());
}

}  // namespace

const boost::system::error_category& jwt_category() noexcept {
  static const JwtCategory category;
  return category;
}

error_code make_error_code(JwtErrc e) noexcept { return {static_cast<int>(e), jwt_category()}; }

std::string_view jwt_failure_reason(JwtErrc e) noexcept {
  switch (e) {
    case JwtErrc::malformed: return "malformed";
    case JwtErrc::unsupported_alg: return "unsupported_alg";
    case JwtErrc::unknown_kid: return "unknown_kid";
    case JwtErrc::bad_signature: return "bad_signature";
    case JwtErrc::expired: return "expired";
    case JwtErrc::not_yet_valid: return "not_yet_valid";
    case JwtErrc::wrong_issuer: return "wrong_issuer";
    case JwtErrc::wrong_audience: return "wrong_audience";
    case JwtErrc::insufficient_scope: return "insufficient_scope";
  }
  return "malformed";
}

std::string_view jwt_failure_reason(const error_code& ec) noexcept {
  if (ec.category() != jwt_category()) return "malformed";
  return jwt_failure_reason(static_cast<JwtErrc>(ec.value()));
}

std::optional<JwsAlg> parse_jws_alg(std::string_view name) {
  if (name == "RS256") return JwsAlg::rs256;
  if (name == "ES256") return JwsAlg::es256;
  if (name == "EdDSA") return JwsAlg::eddsa;
  return std::nullopt;
}

std::string_view to_string(JwsAlg alg) noexcept {
  switch (alg) {
    case JwsAlg::rs256: return "RS256";
    case JwsAlg::es256: return "ES256";
    case JwsAlg::eddsa: return "EdDSA";
  }
  return "?";
}

std::optional<Jwk> parse_jwk(std::string_view json_object, std::string* why) {
  error_code ec;
  auto v = json::parse(json_object, ec);
  std::string reason;
  if (ec || !v.is_object()) {
    if (why != nullptr) *why = "not a JSON object";
    return std::nullopt;
  }
  auto jwk = jwk_from_object(v.get_object(), reason);
  if (why != nullptr) *why = reason;
  return jwk;
}

JwksParseResult Jwks::parse(std::string_view text) {
  JwksParseResult result;
  if (text.size() > kMaxDocumentBytes) {
    result.error = "JWKS larger than 1 MiB";
    return result;
  }
  error_code ec;
  auto v = json::parse(text, ec);
  if (ec) {
    result.error = "JWKS is not JSON: " + ec.message();
    return result;
  }
  const auto* doc = v.if_object();
  const auto* keys = doc != nullptr ? doc->if_contains("keys") : nullptr;
  if (keys == nullptr || !keys->is_array()) {
    result.error = "JWKS is not an object with a \"keys\" array";
    return result;
  }
  if (keys->get_array().size() > kMaxKeys) {
    result.error = "JWKS has more than " + std::to_string(kMaxKeys) + " keys";
    return result;
  }
  auto jwks = std::make_shared<Jwks>();
  std::size_t index = 0;
  for (const auto& item : keys->get_array()) {
    if (!item.is_object()) {
      result.error = "JWKS key " + std::to_string(index) + " is not an object";
      return result;
    }
    std::string why;
    auto jwk = jwk_from_object(item.get_object(), why);
    if (jwk) {
      jwks->keys_.push_back(std::move(*jwk));
    } else {
      const auto* kid = get_string(item.get_object(), "kid");
      result.ignored.push_back("key " + std::to_string(index) +
                               (kid != nullptr ? " (kid \"" + std::string(*kid) + "\")" : "") +
                               ": " + why);
    }
    ++index;
  }
  result.jwks = std::move(jwks);
  return result;
}

boost::system::result<const Jwk*> Jwks::select(std::string_view kid, bool has_kid, JwsAlg alg) const {
  const Jwk* match = nullptr;
  bool kid_seen = false;
  std::size_t of_type = 0;
  for (const auto& k : keys_) {
    if (has_kid) {
      if (k.kid != kid) continue;
      kid_seen = true;
      if (k.alg == alg) return &k;
    } else if (k.alg == alg) {
      ++of_type;
      match = &k;
    }
  }
  if (has_kid) return make_error_code(kid_seen ? JwtErrc::unsupported_alg : JwtErrc::unknown_kid);
  // Without a kid only an unambiguous key will do.
  if (of_type == 1) return match;
  return make_error_code(JwtErrc::unknown_kid);
}

bool verify_jws_signature(const Jwk& key, std::string_view signing_input, std::string_view signature) {
  if (!key.key) return false;
  std::string der;
  const EVP_MD* md = EVP_sha256();
  switch (key.alg) {
    case JwsAlg::rs256:
      if (!EVP_PKEY_is_a(key.key.get(), "RSA")) return false;
      break;
    case JwsAlg::es256: {
      if (!EVP_PKEY_is_a(key.key.get(), "EC")) return false;
      auto converted = es256_raw_to_der(signature);
      if (!converted) return false;
      der = std::move(*converted);
      signature = der;
      break;
    }
    case JwsAlg::eddsa:
      if (!EVP_PKEY_is_a(key.key.get(), "ED25519")) return false;
      md = nullptr;  // Ed25519 hashes internally (one-shot only)
      break;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.key.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(),
                          reinterpret_cast<const unsigned char*>(signing_input.data()),
                          signing_input.size()) == 1;
}

boost::system::result<Principal> JwtVerifier::verify(std::string_view token, const Jwks& keys,
                                                     std::chrono::system_clock::time_point now) const {
  if (token.empty() || token.size() > max_token_bytes) return make_error_code(JwtErrc::malformed);
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  // Exactly three parts: JWE (five parts) and unsecured JWS with an empty signature are refused.
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos ||
      dot1 == 0 || dot2 == dot1 + 1 || dot2 + 1 == token.size()) {
    return make_error_code(JwtErrc::malformed);
  }
  const auto header_b64 = token.substr(0, dot1);
  const auto payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const auto signature_b64 = token.substr(dot2 + 1);

  auto header = parse_object(header_b64);
  if (!header) return make_error_code(JwtErrc::malformed);
  // We implement no JWS extensions, so anything marked critical must be refused (RFC 7515 4.1.11).
  if (header->contains("crit")) return make_error_code(JwtErrc::malformed);
  const auto* alg_name = get_string(*header, "alg");
  if (alg_name == nullptr) return make_error_code(JwtErrc::malformed);
  const auto alg = parse_jws_alg(*alg_name);
  if (!alg) return make_error_code(JwtErrc::unsupported_alg);
  const auto* kid_value = header->if_contains("kid");
  if (kid_value != nullptr && !kid_value->is_string()) return make_error_code(JwtErrc::malformed);
  std::string_view kid = kid_value != nullptr ? std::string_view(kid_value->get_string()) : "";

  auto key = keys.select(kid, kid_value != nullptr, *alg);
  if (!key) return key.error();
  auto signature = base64url_decode(signature_b64);
  if (!signature) return make_error_code(JwtErrc::malformed);
  if (!verify_jws_signature(**key, token.substr(0, dot2), *signature)) {
    return make_error_code(JwtErrc::bad_signature);
  }

  // Signed by a trusted key: now the claims are worth reading.
  auto claims = parse_object(payload_b64);
  if (!claims) return make_error_code(JwtErrc::malformed);
  const std::int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const std::int64_t skew = leeway.count();

  const auto* exp = claims->if_contains("exp");
  if (exp == nullptr) return make_error_code(JwtErrc::malformed);  // RFC 9068: exp is required
  const auto exp_s = numeric_date(*exp);
  if (!exp_s) return make_error_code(JwtErrc::malformed);
  if (now_s >= *exp_s + skew) return make_error_code(JwtErrc::expired);
  if (const auto* nbf = claims->if_contains("nbf"); nbf != nullptr) {
    const auto nbf_s = numeric_date(*nbf);
    if (!nbf_s) return make_error_code(JwtErrc::malformed);
    if (now_s + skew < *nbf_s) return make_error_code(JwtErrc::not_yet_valid);
  }

  const auto* iss = get_string(*claims, "iss");
  if (issuer.empty() || iss == nullptr || *iss != issuer) return make_error_code(JwtErrc::wrong_issuer);

  bool audience_ok = false;
  if (const auto* aud = claims->if_contains("aud"); aud != nullptr && !audience.empty()) {
    if (aud->is_string()) {
      audience_ok = aud->get_string() == audience;
    } else if (aud->is_array()) {
      for (const auto& a : aud->get_array()) audience_ok = audience_ok || (a.is_string() && a.get_string() == audience);
    }
  }
  if (!audience_ok) return make_error_code(JwtErrc::wrong_audience);

  Principal p;
  p.kind = "jwt";
  if (const auto* sub = get_string(*claims, "sub"); sub != nullptr && !sub->empty()) {
    p.name = std::string(*sub);
  } else if (const auto* cid = get_string(*claims, "client_id"); cid != nullptr && !cid->empty()) {
    p.name = std::string(*cid);
  } else {
    return make_error_code(JwtErrc::malformed);
  }
  if (const auto* scope = claims->if_contains("scope"); scope != nullptr) {
    if (!scope->is_string()) return make_error_code(JwtErrc::malformed);
    p.scopes = *string_list(*scope);
  } else if (const auto* scp = claims->if_contains("scp"); scp != nullptr) {
    auto list = string_list(*scp);
    if (!list) return make_error_code(JwtErrc::malformed);
    p.scopes = std::move(*list);
  }
  if (!tools_claim.empty()) {
    if (const auto* tools = claims->if_contains(tools_claim); tools != nullptr) {
      auto list = string_list(*tools);
      if (!list) return make_error_code(JwtErrc::malformed);
      p.tools = std::move(*list);
      // An explicit empty list means "no tools", but an empty Principal::tools means "all tools":
      // keep the intent with a pattern that matches no tool (MCP tool names are never empty).
      if (p.tools.empty()) p.tools.emplace_back();
    }
  }
  for (const auto& needed : required_scopes) {
    if (std::find(p.scopes.begin(), p.scopes.end(), needed) == p.scopes.end()) {
      return make_error_code(JwtErrc::insufficient_scope);
    }
  }
  return p;
}

}  // namespace bastion::guard::auth
