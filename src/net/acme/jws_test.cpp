#include "net/acme/jws.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <boost/json/parse.hpp>
#include <cstdlib>
#include <filesystem>

namespace bastion::net::acme {
namespace {

namespace json = boost::json;

bool verify_es256(const EcKey& key, std::string_view data, std::string_view raw_signature) {
  auto der = ecdsa_raw_to_der(raw_signature);
  if (!der) return false;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(der->data()), der->size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

TEST(Base64Url, RoundTripAndStrictness) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(base64url_decode("-_8"), std::string("\xfb\xff"));
  EXPECT_EQ(base64url_decode("Zm9v"), "foo");
  EXPECT_FALSE(base64url_decode("Zm9v="));  // no padding
  EXPECT_FALSE(base64url_decode("Zm+v"));   // standard alphabet refused
  EXPECT_FALSE(base64url_decode("Z"));      // impossible length
  EXPECT_FALSE(base64url_decode("Zh"));     // non-canonical trailing bits
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  EXPECT_EQ(base64url_decode(base64url_encode(all)), all);
}

TEST(Thumbprint, MatchesRfc7638Example) {
  // RFC 7638 §3.1: the RSA key of RFC 7517 Appendix A.1.
  const std::string n =
      "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3"
      "oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgd"
      "AZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFC"
      "ur-kEgU8awapJzKnqDKgw";
  // Member order in the input must not matter.
  auto canonical = canonical_jwk({{"n", n}, {"kty", "RSA"}, {"e", "AQAB"}});
  EXPECT_EQ(canonical, R"({"e":"AQAB","kty":"RSA","n":")" + n + R"("})");
  EXPECT_EQ(thumbprint_of_canonical(canonical), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST(EcKey, GeneratesP256AndExportsJwk) {
  auto key = EcKey::generate();
  ASSERT_TRUE(key);
  auto [x, y] = key->public_xy();
  EXPECT_EQ(x.size(), 32u);
  EXPECT_EQ(y.size(), 32u);
  auto jwk = public_jwk(*key);
  EXPECT_EQ(jwk.at("kty").as_string(), "EC");
  EXPECT_EQ(jwk.at("crv").as_string(), "P-256");
  EXPECT_EQ(base64url_decode(jwk.at("x").as_string()), x);
  auto expected = thumbprint_of_canonical(
      canonical_jwk({{"crv", "P-256"}, {"kty", "EC"}, {"x", base64url_encode(x)}, {"y", base64url_encode(y)}}));
  EXPECT_EQ(jwk_thumbprint(*key), expected);
  EXPECT_EQ(jwk_thumbprint(*key).size(), 43u);
  EXPECT_EQ(key_authorization("tok", "thumb"), "tok.thumb");
}

TEST(EcKey, SavesWithMode0600AndLoadsBack) {
  auto dir = std::filesystem::temp_directory_path() / ("acme_jws_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto key = EcKey::generate();
  ASSERT_TRUE(key);
  auto file = dir / "account.key";
  ASSERT_TRUE(key->save(file));
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = EcKey::load(file);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(jwk_thumbprint(*loaded), jwk_thumbprint(*key));
  // Overwriting keeps the mode and leaves no temp files behind.
  ASSERT_TRUE(loaded->save(file));
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1u);
  std::filesystem::remove_all(dir);
}

TEST(EcKey, RefusesOtherKeyTypesAndGarbage) {
  EXPECT_FALSE(EcKey::from_pem("not a key"));
  EVP_PKEY* rsa = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  ASSERT_NE(rsa, nullptr);
  EcKey wrapped(rsa);  // takes ownership; only used to export the PEM
  auto loaded = EcKey::from_pem(wrapped.private_pem());
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error(), boost::system::errc::not_supported);
  EVP_PKEY* p384 = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  EcKey wrapped384(p384);
  EXPECT_FALSE(EcKey::from_pem(wrapped384.private_pem()));
  EXPECT_FALSE(EcKey::load("/nonexistent/acme/key.pem"));
}

TEST(Es256, SignatureIsRawRSAndVerifiesWithOpenSsl) {
  auto key = EcKey::generate();
  ASSERT_TRUE(key);
  for (int i = 0; i < 20; ++i) {  // several, so short r/s values (leading zero bytes) show up
    std::string data = "payload-" + std::to_string(i);
    auto sig = sign_es256(*key, data);
    ASSERT_TRUE(sig);
    ASSERT_EQ(sig->size(), 64u);
    EXPECT_TRUE(verify_es256(*key, data, *sig));
    EXPECT_FALSE(verify_es256(*key, data + "x", *sig));
  }
  // DER <-> raw conversion keeps leading zeros of the fixed-width form.
  std::string raw(64, '\0');
  raw[31] = 1;
  raw[63] = 2;
  auto der = ecdsa_raw_to_der(raw);
  ASSERT_TRUE(der);
  EXPECT_EQ(ecdsa_der_to_raw(*der), raw);
  EXPECT_FALSE(ecdsa_der_to_raw("garbage"));
}

TEST(Jws, FlattenedJsonWithJwkOrKid) {
  auto key = EcKey::generate();
  ASSERT_TRUE(key);
  auto body = sign_request(*key, {"https://ca.test/new-acct", "nonce123", std::nullopt, R"({"a":1})"});
  ASSERT_TRUE(body);
  auto jws = json::parse(*body).as_object();
  ASSERT_EQ(jws.size(), 3u);
  auto header = json::parse(*base64url_decode(jws.at("protected").as_string())).as_object();
  EXPECT_EQ(header.at("alg").as_string(), "ES256");
  EXPECT_EQ(header.at("nonce").as_string(), "nonce123");
  EXPECT_EQ(header.at("url").as_string(), "https://ca.test/new-acct");
  EXPECT_EQ(header.at("jwk").as_object(), public_jwk(*key));
  EXPECT_FALSE(header.contains("kid"));
  EXPECT_EQ(base64url_decode(jws.at("payload").as_string()), R"({"a":1})");
  std::string signing_input = std::string(jws.at("protected").as_string()) + "." +
                              std::string(jws.at("payload").as_string());
  EXPECT_TRUE(verify_es256(*key, signing_input, *base64url_decode(jws.at("signature").as_string())));

  // POST-as-GET with kid: empty payload, no jwk.
  auto get = sign_request(*key, {"https://ca.test/order/1", "n2", std::string("https://ca.test/acct/7"), std::nullopt});
  ASSERT_TRUE(get);
  auto jws2 = json::parse(*get).as_object();
  EXPECT_EQ(jws2.at("payload").as_string(), "");
  auto header2 = json::parse(*base64url_decode(jws2.at("protected").as_string())).as_object();
  EXPECT_EQ(header2.at("kid").as_string(), "https://ca.test/acct/7");
  EXPECT_FALSE(header2.contains("jwk"));
  EXPECT_TRUE(verify_es256(*key, std::string(jws2.at("protected").as_string()) + ".",
                           *base64url_decode(jws2.at("signature").as_string())));
}

}  // namespace
}  // namespace bastion::net::acme
