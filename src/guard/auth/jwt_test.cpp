#include "guard/auth/jwt.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <limits>

#include "guard/auth/encoding.hpp"
#include "guard/auth/jwt_test_signer.hpp"

namespace bastion::guard::auth {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;
using testing::TestKey;
using Clock = std::chrono::system_clock;

constexpr std::int64_t kNow = 1'760'000'000;
const Clock::time_point kNowTp = Clock::time_point(std::chrono::seconds(kNow));

// Keys are made once: RSA generation is the slow part.
struct Keys {
  TestKey rsa = testing::make_rsa_key("rsa-1");
  TestKey ec = testing::make_ec_key("ec-1");
  TestKey ed = testing::make_ed25519_key("ed-1");
  TestKey stranger = testing::make_ec_key("ec-1");  // same kid, not in the JWKS
};
const Keys& keys() {
  static const Keys k;
  return k;
}

std::shared_ptr<const Jwks> jwks() {
  static const auto set = [] {
    auto r = Jwks::parse(testing::jwks_json({&keys().rsa, &keys().ec, &keys().ed}));
    EXPECT_TRUE(r.ok()) << r.error;
    return r.jwks;
  }();
  return set;
}

JwtVerifier verifier() {
  JwtVerifier v;
  v.issuer = "https://idp.example.com";
  v.audience = "https://bastion.example.com/mcp";
  return v;
}

json::object claims() {
  json::object c;
  c["iss"] = "https://idp.example.com";
  c["aud"] = "https://bastion.example.com/mcp";
  c["sub"] = "user-42";
  c["exp"] = kNow + 300;
  c["iat"] = kNow;
  c["scope"] = "mcp:read mcp:write";
  return c;
}

JwtErrc reason_of(const boost::system::result<Principal>& r) {
  EXPECT_FALSE(r.has_value());
  if (r.has_value()) return JwtErrc{};
  EXPECT_EQ(r.error().category(), jwt_category());
  return static_cast<JwtErrc>(r.error().value());
}

TEST(Jwt, AcceptsEachAlgorithm) {
  for (const TestKey* key : {&keys().rsa, &keys().ec, &keys().ed}) {
    auto c = claims();
    c["bastion_tools"] = json::array{"demo__*", "other__echo"};
    auto r = verifier().verify(testing::sign_jwt(*key, c), *jwks(), kNowTp);
    ASSERT_TRUE(r.has_value()) << to_string(key->alg) << ": " << r.error().message();
    EXPECT_EQ(r->name, "user-42");
    EXPECT_EQ(r->kind, "jwt");
    EXPECT_EQ(r->scopes, (std::vector<std::string>{"mcp:read", "mcp:write"}));
    EXPECT_EQ(r->tools, (std::vector<std::string>{"demo__*", "other__echo"}));
  }
}

TEST(Jwt, ClaimVariants) {
  // aud as array, client_id instead of sub, scp array, no tools claim, custom tools claim.
  auto c = claims();
  c["aud"] = json::array{"other", "https://bastion.example.com/mcp"};
  c.erase("sub");
  c["client_id"] = "svc";
  c.erase("scope");
  c["scp"] = json::array{"a", "b"};
  auto r = verifier().verify(testing::sign_jwt(keys().ec, c), *jwks(), kNowTp);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->name, "svc");
  EXPECT_EQ(r->scopes, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(r->tools.empty());

  auto v = verifier();
  v.tools_claim = "tools";
  c["tools"] = "x__a x__b";
  r = v.verify(testing::sign_jwt(keys().ec, c), *jwks(), kNowTp);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->tools, (std::vector<std::string>{"x__a", "x__b"}));

  // An explicit empty list means no tools, not all tools.
  c["tools"] = json::array{};
  r = v.verify(testing::sign_jwt(keys().ec, c), *jwks(), kNowTp);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->tools.empty());

  // Without sub and client_id there is nobody to name.
  c.erase("client_id");
  EXPECT_EQ(reason_of(v.verify(testing::sign_jwt(keys().ec, c), *jwks(), kNowTp)), JwtErrc::malformed);
}

TEST(Jwt, TamperedPayloadFailsSignature) {
  const auto token = testing::sign_jwt(keys().rsa, claims());
  const auto dot1 = token.find('.');
  const auto dot2 = token.find('.', dot1 + 1);
  auto c = claims();
  c["sub"] = "admin";
  const auto forged = token.substr(0, dot1 + 1) + base64url_encode(json::serialize(c)) + token.substr(dot2);
  EXPECT_EQ(reason_of(verifier().verify(forged, *jwks(), kNowTp)), JwtErrc::bad_signature);

  for (const TestKey* key : {&keys().ec, &keys().ed}) {
    auto t = testing::sign_jwt(*key, claims());
    // Flip one bit in the signature.
    auto sig = *base64url_decode(t.substr(t.rfind('.') + 1));
    sig[5] = char(sig[5] ^ 1);
    t = t.substr(0, t.rfind('.') + 1) + base64url_encode(sig);
    EXPECT_EQ(reason_of(verifier().verify(t, *jwks(), kNowTp)), JwtErrc::bad_signature);
  }
  // Right kid, signed by a key that is not in the JWKS.
  EXPECT_EQ(reason_of(verifier().verify(testing::sign_jwt(keys().stranger, claims()), *jwks(), kNowTp)),
            JwtErrc::bad_signature);
}

TEST(Jwt, RejectsNoneHsAndAlgConfusion) {
  const auto payload = json::serialize(claims());
  // alg none with an empty signature, and with any signature.
  const auto none = base64url_encode(R"({"alg":"none"})") + "." + base64url_encode(payload) + ".";
  EXPECT_EQ(reason_of(verifier().verify(none, *jwks(), kNowTp)), JwtErrc::malformed);
  EXPECT_EQ(reason_of(verifier().verify(none + "AAAA", *jwks(), kNowTp)), JwtErrc::unsupported_alg);
  // HS256 "signed" with the RSA public key as the HMAC secret (the classic confusion attack).
  auto hs = testing::sign_compact(keys().rsa, R"({"alg":"HS256","kid":"rsa-1"})", payload);
  EXPECT_EQ(reason_of(verifier().verify(hs, *jwks(), kNowTp)), JwtErrc::unsupported_alg);
  for (const char* alg : {"RS512", "PS256", "ES384", "rs256", "EDDSA"}) {
    auto t = testing::sign_compact(keys().rsa, std::string(R"({"alg":")") + alg + R"(","kid":"rsa-1"})", payload);
    EXPECT_EQ(reason_of(verifier().verify(t, *jwks(), kNowTp)), JwtErrc::unsupported_alg) << alg;
  }
  // ES256 header naming the RSA key: refused before any signature maths.
  auto confused = testing::sign_compact(keys().rsa, R"({"alg":"ES256","kid":"rsa-1"})", payload);
  EXPECT_EQ(reason_of(verifier().verify(confused, *jwks(), kNowTp)), JwtErrc::unsupported_alg);
  confused = testing::sign_compact(keys().ec, R"({"alg":"RS256","kid":"ec-1"})", payload);
  EXPECT_EQ(reason_of(verifier().verify(confused, *jwks(), kNowTp)), JwtErrc::unsupported_alg);
  confused = testing::sign_compact(keys().ed, R"({"alg":"ES256","kid":"ed-1"})", payload);
  EXPECT_EQ(reason_of(verifier().verify(confused, *jwks(), kNowTp)), JwtErrc::unsupported_alg);
  // crit extensions are not understood, so refused.
  auto crit = testing::sign_compact(keys().ec, R"({"alg":"ES256","kid":"ec-1","crit":["b64"],"b64":false})", payload);
  EXPECT_EQ(reason_of(verifier().verify(crit, *jwks(), kNowTp)), JwtErrc::malformed);
  // An embedded jwk header is ignored: the stranger's key is still not trusted.
  auto embedded = testing::sign_compact(
      keys().stranger,
      R"({"alg":"ES256","kid":"ec-1","jwk":)" + json::serialize(keys().stranger.jwk()) + "}", payload);
  EXPECT_EQ(reason_of(verifier().verify(embedded, *jwks(), kNowTp)), JwtErrc::bad_signature);
}

TEST(Jwt, KidSelection) {
  auto unknown = testing::make_ec_key("nope");
  EXPECT_EQ(reason_of(verifier().verify(testing::sign_jwt(unknown, claims()), *jwks(), kNowTp)),
            JwtErrc::unknown_kid);
  // No kid: accepted only when exactly one key of the type exists.
  auto anon = keys().ed;
  anon.kid.clear();
  EXPECT_TRUE(verifier().verify(testing::sign_jwt(anon, claims()), *jwks(), kNowTp).has_value());
  auto two_ec = Jwks::parse(testing::jwks_json({&keys().ec, &unknown})).jwks;
  auto anon_ec = keys().ec;
  anon_ec.kid.clear();
  EXPECT_EQ(reason_of(verifier().verify(testing::sign_jwt(anon_ec, claims()), *two_ec, kNowTp)),
            JwtErrc::unknown_kid);
  // A kid that is not a string.
  auto t = testing::sign_compact(keys().ec, R"({"alg":"ES256","kid":7})", json::serialize(claims()));
  EXPECT_EQ(reason_of(verifier().verify(t, *jwks(), kNowTp)), JwtErrc::malformed);
}

TEST(Jwt, ExpiryAndNotBeforeWithLeeway) {
  auto v = verifier();
  v.leeway = 60s;
  auto c = claims();
  c["exp"] = kNow - 59;  // inside leeway
  EXPECT_TRUE(v.verify(testing::sign_jwt(keys().ec, c), *jwks(), kNowTp).has_value());
  c["exp"] = kNow - 60;  // exactly at exp + leeway: expired
  EXPECT_EQ(reason_of(v.verify(testing::sign_jwt(keys().ec, c), *jwks(), kNowTp)), JwtErrc::expired);
  v.leeway = 0s;
  c["exp"] = kNow;
  EXPECT_EQ(reason_of(v.verify(testing::sign_jwt(keys().ec, c), *jwks(), kNowTp)), JwtErrc::expired);
  c["exp"] = kNow + 1.5;  // NumericDate may be fractional
  EXPECT_TRUE(v.verify(testing::sign_jwt(keys().ec, c), *jwks(), kNowTp).has_value());

  v.leeway = 60s;
  c = claims();
  c["nbf"] = kNow + 60;  // inside leeway
  EXPECT_TRUE(v.verify(testing::sign_jwt(keys().ec, c), *jwks(), kNowTp).has_value());
  c["nbf"] = kNow + 61;
  EXPECT_EQ(reason_of(v.verify(testing::sign_jwt(keys().ec, c), *jwks(), kNowTp)), JwtErrc::not_yet_valid);
  c["nbf"] = "soon";
  EXPECT_EQ(reason_of(v.verify(testing::sign_jwt(keys().ec, c), *jwks(), kNowTp)), JwtErrc::malformed);

  // Extreme values saturate instead of overflowing.
  c = claims();
  c["exp"] = std::numeric_limits<std::uint64_t>::max();
  c["nbf"] = std::numeric_limits<std::int64_t>::min();
  EXPECT_TRUE(v.verify(testing::sign_jwt(keys().ec, c), *jwks(), kNowTp).has_value());
  c["exp"] = std::numeric_limits<std::int64_t>::min();
  EXPECT_EQ(reason_of(v.verify(testing::sign_jwt(keys().ec, c), *jwks(), kNowTp)), JwtErrc::expired);
  c["exp"] = 1e300;
  c["nbf"] = 1e300;
  EXPECT_EQ(reason_of(v.verify(testing::sign_jwt(keys().ec, c), *jwks(), kNowTp)), JwtErrc::not_yet_valid);

  c = claims();
  c.erase("exp");  // access tokens must expire
  EXPECT_EQ(reason_of(v.verify(testing::sign_jwt(keys().ec, c), *jwks(), kNowTp)), JwtErrc::malformed);
}

TEST(Jwt, IssuerAudienceAndScopes) {
  auto c = claims();
  c["iss"] = "https://evil.example.com";
  EXPECT_EQ(reason_of(verifier().verify(testing::sign_jwt(keys().ec, c), *jwks(), kNowTp)), JwtErrc::wrong_issuer);
  c.erase("iss");
  EXPECT_EQ(reason_of(verifier().verify(testing::sign_jwt(keys().ec, c), *jwks(), kNowTp)), JwtErrc::wrong_issuer);

  c = claims();
  c["aud"] = "https://other.example.com/mcp";
  EXPECT_EQ(reason_of(verifier().verify(testing::sign_jwt(keys().ec, c), *jwks(), kNowTp)), JwtErrc::wrong_audience);
  c["aud"] = json::array{"a", "b"};
  EXPECT_EQ(reason_of(verifier().verify(testing::sign_jwt(keys().ec, c), *jwks(), kNowTp)), JwtErrc::wrong_audience);
  c.erase("aud");
  EXPECT_EQ(reason_of(verifier().verify(testing::sign_jwt(keys().ec, c), *jwks(), kNowTp)), JwtErrc::wrong_audience);

  // Unconfigured issuer/audience fail closed.
  auto open = verifier();
  open.audience.clear();
  EXPECT_EQ(reason_of(open.verify(testing::sign_jwt(keys().ec, claims()), *jwks(), kNowTp)), JwtErrc::wrong_audience);

  auto v = verifier();
  v.required_scopes = {"mcp:read", "mcp:admin"};
  EXPECT_EQ(reason_of(v.verify(testing::sign_jwt(keys().ec, claims()), *jwks(), kNowTp)),
            JwtErrc::insufficient_scope);
  v.required_scopes = {"mcp:write"};
  EXPECT_TRUE(v.verify(testing::sign_jwt(keys().ec, claims()), *jwks(), kNowTp).has_value());
}

TEST(Jwt, MalformedTokens) {
  const auto good = testing::sign_jwt(keys().ec, claims());
  const auto dot1 = good.find('.');
  std::vector<std::string> bad = {
      "", "abc", "a.b", "a.b.c.d.e", good + ".x", "." + good.substr(dot1),
      good.substr(0, good.rfind('.') + 1),                // empty signature
      good + "=",                                          // padding
      "e30." + good.substr(dot1 + 1),                      // header {} without alg
      base64url_encode("not json") + good.substr(dot1),
      std::string(20000, 'a'),
  };
  // Payload that is not JSON but correctly signed.
  bad.push_back(testing::sign_compact(keys().ec, R"({"alg":"ES256","kid":"ec-1"})", "not json"));
  for (const auto& t : bad) {
    EXPECT_EQ(reason_of(verifier().verify(t, *jwks(), kNowTp)), JwtErrc::malformed) << t.substr(0, 80);
  }
}

TEST(Jwt, ReasonStringsAreStable) {
  EXPECT_EQ(jwt_failure_reason(JwtErrc::malformed), "malformed");
  EXPECT_EQ(jwt_failure_reason(JwtErrc::unsupported_alg), "unsupported_alg");
  EXPECT_EQ(jwt_failure_reason(JwtErrc::unknown_kid), "unknown_kid");
  EXPECT_EQ(jwt_failure_reason(JwtErrc::bad_signature), "bad_signature");
  EXPECT_EQ(jwt_failure_reason(JwtErrc::expired), "expired");
  EXPECT_EQ(jwt_failure_reason(JwtErrc::not_yet_valid), "not_yet_valid");
  EXPECT_EQ(jwt_failure_reason(JwtErrc::wrong_issuer), "wrong_issuer");
  EXPECT_EQ(jwt_failure_reason(JwtErrc::wrong_audience), "wrong_audience");
  EXPECT_EQ(jwt_failure_reason(JwtErrc::insufficient_scope), "insufficient_scope");
  EXPECT_EQ(jwt_failure_reason(make_error_code(JwtErrc::expired)), "expired");
  EXPECT_EQ(make_error_code(JwtErrc::bad_signature).message(), "bad_signature");
  EXPECT_EQ(jwt_failure_reason(boost::system::error_code(5, boost::system::generic_category())), "malformed");
}

TEST(Jwks, ParsesSupportedKeysAndSkipsOthers) {
  json::array arr;
  arr.push_back(keys().rsa.jwk());
  arr.push_back(json::object{{"kty", "oct"}, {"k", "c2VjcmV0"}, {"kid", "hmac"}});
  arr.push_back(json::object{{"kty", "EC"}, {"crv", "P-384"}, {"x", "AA"}, {"y", "AA"}});
  auto enc = keys().ec.jwk();
  enc["use"] = "enc";
  arr.push_back(enc);
  auto wrong_alg = keys().ec.jwk();
  wrong_alg["alg"] = "RS256";
  arr.push_back(wrong_alg);
  auto off_curve = keys().ec.jwk();
  auto y = *base64url_decode(off_curve["y"].as_string());
  y[31] = char(y[31] ^ 1);
  off_curve["y"] = base64url_encode(y);
  off_curve["kid"] = "off-curve";
  arr.push_back(off_curve);
  auto small_rsa = testing::make_rsa_key("small", 1024);
  arr.push_back(small_rsa.jwk());
  arr.push_back(keys().ed.jwk(false));  // no alg/use: fine
  json::object doc{{"keys", arr}};
  auto r = Jwks::parse(json::serialize(doc));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.jwks->size(), 2u);
  EXPECT_EQ(r.ignored.size(), 6u);
  EXPECT_EQ(r.jwks->keys()[0].alg, JwsAlg::rs256);
  EXPECT_EQ(r.jwks->keys()[1].alg, JwsAlg::eddsa);
}

TEST(Jwks, GarbageIsAnError) {
  for (std::string bad : {"", "nope", "[]", "{}", R"({"keys":{}})", R"({"keys":[1]})"}) {
    auto r = Jwks::parse(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_FALSE(r.error.empty());
  }
  EXPECT_TRUE(Jwks::parse(R"({"keys":[]})").ok());
}

}  // namespace
}  // namespace bastion::guard::auth
