#include "net/acme/csr.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>
#include <memory>

namespace bastion::net::acme {

namespace {

using boost::system::errc::make_error_code;
using errc = boost::system::errc::errc_t;

struct Free {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
  void operator()(X509* p) const noexcept { X509_free(p); }
  void operator()(X509_REQ* p) const noexcept { X509_REQ_free(p); }
  void operator()(X509_NAME* p) const noexcept { X509_NAME_free(p); }
  void operator()(GENERAL_NAMES* p) const noexcept { GENERAL_NAMES_free(p); }
  void operator()(STACK_OF(X509_EXTENSION) * p) const noexcept { sk_X509_EXTENSION_pop_free(p, X509_EXTENSION_free); }
};
template <class T>
using Ptr = std::unique_ptr<T, Free>;

std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::vector<std::string> san_dns_names(X509* cert) {
  std::vector<std::string> out;
  Ptr<GENERAL_NAMES> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_DNS) continue;
    const ASN1_IA5STRING* s = name->d.dNSName;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
  }
  return out;
}

}  // namespace

bool valid_domain(std::string_view domain) {
  if (domain.empty() || domain.size() > 253) return false;
  std::size_t labels = 0;
  std::size_t start = 0;
  while (start <= domain.size()) {
    auto dot = domain.find('.', start);
    auto end = dot == std::string_view::npos ? domain.size() : dot;
    auto label = domain.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return false;
    }
    ++labels;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return labels >= 2;
}

boost::system::result<std::string> make_csr_der(const EcKey& key, const std::vector<std::string>& domains) {
  if (!key.valid() || domains.empty()) return make_error_code(errc::invalid_argument);
  for (const auto& d : domains) {
    if (!valid_domain(d)) return make_error_code(errc::invalid_argument);
  }
  Ptr<X509_REQ> req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1) return make_error_code(errc::not_enough_memory);
  if (domains.front().size() <= 64) {
    X509_NAME* subject = X509_REQ_get_subject_name(req.get());
    const auto& cn = domains.front();
    if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.data()),
                                   static_cast<int>(cn.size()), -1, 0) != 1) {
      return make_error_code(errc::invalid_argument);
    }
  }
  // SANs built as GENERAL_NAMEs, not through a "DNS:a,DNS:b" config string, so no name can
  // inject extra entries.
  Ptr<GENERAL_NAMES> names(GENERAL_NAMES_new());
  if (!names) return make_error_code(errc::not_enough_memory);
  for (const auto& d : domains) {
    GENERAL_NAME* name = GENERAL_NAME_new();
    ASN1_IA5STRING* value = ASN1_IA5STRING_new();
    if (!name || !value || ASN1_STRING_set(value, d.data(), static_cast<int>(d.size())) != 1) {
      GENERAL_NAME_free(name);
      ASN1_IA5STRING_free(value);
      return make_error_code(errc::not_enough_memory);
    }
    GENERAL_NAME_set0_value(name, GEN_DNS, value);
    if (sk_GENERAL_NAME_push(names.get(), name) <= 0) {
      GENERAL_NAME_free(name);
      return make_error_code(errc::not_enough_memory);
    }
  }
  STACK_OF(X509_EXTENSION)* raw_extensions = nullptr;
  int added = X509V3_add1_i2d(&raw_extensions, NID_subject_alt_name, names.get(), 0, X509V3_ADD_APPEND);
  Ptr<STACK_OF(X509_EXTENSION)> extensions(raw_extensions);
  if (added != 1 || X509_REQ_add_extensions(req.get(), extensions.get()) != 1) {
    return make_error_code(errc::not_enough_memory);
  }
  if (X509_REQ_set_pubkey(req.get(), key.get()) != 1) return make_error_code(errc::invalid_argument);
  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) return make_error_code(errc::not_supported);
  int len = i2d_X509_REQ(req.get(), nullptr);
  if (len <= 0) return make_error_code(errc::not_supported);
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509_REQ(req.get(), &out);
  return der;
}

namespace {
// Reads every certificate of a PEM text; stops at the first block that is not a certificate.
boost::system::result<std::vector<Ptr<X509>>> read_chain(std::string_view pem) {
  Ptr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return make_error_code(errc::not_enough_memory);
  std::vector<Ptr<X509>> chain;
  for (int i = 0; i < 32; ++i) {  // a chain longer than this is not a chain we asked for
    X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (cert == nullptr) break;
    chain.emplace_back(cert);
  }
  ERR_clear_error();  // the expected "no start line" at the end of the input
  if (chain.empty()) return make_error_code(errc::invalid_argument);
  return chain;
}
}  // namespace

boost::system::result<CertificateInfo> parse_certificate_pem(std::string_view pem) {
  auto chain = read_chain(pem);
  if (!chain) return chain.error();
  X509* leaf = chain->front().get();
  CertificateInfo info;
  info.not_before = to_time_point(X509_get0_notBefore(leaf));
  info.not_after = to_time_point(X509_get0_notAfter(leaf));
  info.dns_names = san_dns_names(leaf);
  info.chain_length = chain->size();
  if (const ASN1_INTEGER* serial = X509_get0_serialNumber(leaf)) {
    std::unique_ptr<BIGNUM, void (*)(BIGNUM*)> bn(ASN1_INTEGER_to_BN(serial, nullptr), BN_free);
    if (bn) {
      char* hex = BN_bn2hex(bn.get());
      if (hex) {
        info.serial_hex = hex;
        OPENSSL_free(hex);
      }
    }
  }
  char buf[256];
  if (X509_NAME_oneline(X509_get_issuer_name(leaf), buf, sizeof buf)) info.issuer = buf;
  return info;
}

bool key_matches_certificate(const EcKey& key, std::string_view certificate_pem) {
  auto chain = read_chain(certificate_pem);
  if (!chain || !key.valid()) return false;
  bool ok = X509_check_private_key(chain->front().get(), key.get()) == 1;
  ERR_clear_error();
  return ok;
}

std::vector<std::string> split_pem_chain(std::string_view pem) {
  std::vector<std::string> out;
  auto chain = read_chain(pem);
  if (!chain) return out;
  for (auto& cert : *chain) {
    Ptr<BIO> bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509(bio.get(), cert.get()) != 1) return {};
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    out.emplace_back(data, static_cast<std::size_t>(len));
  }
  return out;
}

std::chrono::system_clock::time_point renewal_point(const CertificateInfo& info) {
  const auto lifetime = info.not_after - info.not_before;
  if (lifetime <= decltype(lifetime)::zero()) return info.not_before;
  return info.not_before + lifetime * 2 / 3;
}

}  // namespace bastion::net::acme
