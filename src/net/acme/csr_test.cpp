#include "net/acme/csr.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace bastion::net::acme {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> csr_sans(X509_REQ* req) {
  std::vector<std::string> out;
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req);
  auto* names = static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    auto* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS) {
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)),
                       ASN1_STRING_length(n->d.dNSName));
    }
  }
  GENERAL_NAMES_free(names);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  return out;
}

// A self-signed certificate with the given SANs and validity, as PEM.
std::string self_signed(const EcKey& key, const std::vector<std::string>& sans, long not_before_offset,
                        long not_after_offset, long serial = 4242) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), not_before_offset);
  X509_gmtime_adj(X509_getm_notAfter(cert), not_after_offset);
  X509_set_pubkey(cert, key.get());
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("test"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  std::string san;
  for (const auto& s : sans) san += (san.empty() ? "DNS:" : ",DNS:") + s;
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  X509_sign(cert, key.get(), EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  X509_free(cert);
  return pem;
}

TEST(Domain, Validation) {
  EXPECT_TRUE(valid_domain("example.test"));
  EXPECT_TRUE(valid_domain("www.example-1.test"));
  EXPECT_TRUE(valid_domain("xn--bcher-kva.example"));
  EXPECT_FALSE(valid_domain("localhost"));  // single label
  EXPECT_FALSE(valid_domain("*.example.test"));
  EXPECT_FALSE(valid_domain("Example.test"));
  EXPECT_FALSE(valid_domain("example..test"));
  EXPECT_FALSE(valid_domain(".example.test"));
  EXPECT_FALSE(valid_domain("example.test."));
  EXPECT_FALSE(valid_domain("-a.example.test"));
  EXPECT_FALSE(valid_domain("a,DNS:evil.test"));
  EXPECT_FALSE(valid_domain(std::string(64, 'a') + ".test"));
  EXPECT_FALSE(valid_domain(""));
}

TEST(Csr, CarriesEveryDomainAsSanAndVerifies) {
  auto key = EcKey::generate();
  ASSERT_TRUE(key);
  std::vector<std::string> domains{"example.test", "www.example.test"};
  auto der = make_csr_der(*key, domains);
  ASSERT_TRUE(der);
  const auto* p = reinterpret_cast<const unsigned char*>(der->data());
  X509_REQ* req = d2i_X509_REQ(nullptr, &p, static_cast<long>(der->size()));
  ASSERT_NE(req, nullptr);
  EXPECT_EQ(X509_REQ_verify(req, key->get()), 1);
  EXPECT_EQ(csr_sans(req), domains);
  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "example.test");
  EXPECT_EQ(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), key->get()), 1);
  X509_REQ_free(req);
  // base64url form as sent in the finalize request.
  EXPECT_EQ(base64url_decode(base64url_encode(*der)), *der);
}

TEST(Csr, RefusesBadInput) {
  auto key = EcKey::generate();
  ASSERT_TRUE(key);
  EXPECT_FALSE(make_csr_der(*key, {}));
  EXPECT_FALSE(make_csr_der(*key, {"ok.test", "bad,DNS:evil.test"}));
  EXPECT_FALSE(make_csr_der(EcKey(), {"ok.test"}));
}

TEST(Certificate, ParsesValiditySansAndSerial) {
  auto key = EcKey::generate();
  ASSERT_TRUE(key);
  auto pem = self_signed(*key, {"a.test", "b.test"}, -3600, 90 * 86400, 0x1234ab);
  auto info = parse_certificate_pem(pem + pem);  // a "chain" of two
  ASSERT_TRUE(info);
  EXPECT_EQ(info->dns_names, (std::vector<std::string>{"a.test", "b.test"}));
  EXPECT_EQ(info->serial_hex, "1234AB");
  EXPECT_EQ(info->chain_length, 2u);
  auto now = std::chrono::system_clock::now();
  EXPECT_LT(std::chrono::abs(info->not_before - (now - 1h)), 5s);
  EXPECT_LT(std::chrono::abs(info->not_after - (now + 90 * 24h)), 5s);
  // Two thirds of (90 days + 1 hour) after notBefore.
  auto expected = info->not_before + (info->not_after - info->not_before) * 2 / 3;
  EXPECT_EQ(renewal_point(*info), expected);
  EXPECT_LT(std::chrono::abs(renewal_point(*info) - (now - 1h + 60 * 24h + 40min)), 5s);

  EXPECT_TRUE(key_matches_certificate(*key, pem));
  auto other = EcKey::generate();
  EXPECT_FALSE(key_matches_certificate(*other, pem));
  EXPECT_EQ(split_pem_chain(pem + pem).size(), 2u);

  EXPECT_FALSE(parse_certificate_pem("no certificate here"));
  EXPECT_FALSE(parse_certificate_pem(""));
}

TEST(Certificate, RenewalPointOfDegenerateLifetime) {
  CertificateInfo info;
  info.not_before = std::chrono::system_clock::time_point(10s);
  info.not_after = std::chrono::system_clock::time_point(5s);
  EXPECT_EQ(renewal_point(info), info.not_before);
}

}  // namespace
}  // namespace bastion::net::acme
