#include "app/tls_setup.hpp"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "core/secrets.hpp"

namespace bastion::app {

std::string write_self_signed(const std::string& cert_file, const std::string& key_file,
                              const std::vector<std::string>& names, int days) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!key || !cert) return "cannot generate a key";
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(std::time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 60L * 60 * 24 * days);
  X509_set_pubkey(cert.get(), key.get());
  auto* subject = X509_get_subject_name(cert.get());
  const std::string cn = names.empty() ? "localhost" : names.front();
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), subject);
  std::string san;
  for (const auto& n : names) san += (san.empty() ? "DNS:" : ",DNS:") + n;
  if (san.empty()) san = "DNS:localhost";
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  if (auto* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str())) {
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return "cannot sign the certificate";
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(key_file).parent_path(), ec);
  const mode_t old = ::umask(077);
  FILE* kf = std::fopen(key_file.c_str(), "w");
  FILE* cf = kf ? std::fopen(cert_file.c_str(), "w") : nullptr;
  ::umask(old);
  bool ok = kf && cf && PEM_write_PrivateKey(kf, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1 &&
            PEM_write_X509(cf, cert.get()) == 1;
  if (kf) std::fclose(kf);
  if (cf) std::fclose(cf);
  return ok ? std::string() : "cannot write " + cert_file + " / " + key_file;
}

std::variant<TlsSetup, std::string> setup_tls(const core::Config& config) {
  const auto& t = *config.listen.tls;
  net::tls::TlsServerOptions options;
  options.ciphers_tls12 = t.ciphers;
  options.ciphersuites_tls13 = t.ciphersuites;
  options.prefer_server_ciphers = t.prefer_server_ciphers;
  options.ticket_key_rotation = std::chrono::duration_cast<std::chrono::seconds>(t.ticket_key_rotation);
  if (auto bad = net::tls::validate_cipher_config(options)) return "listen.public.tls: " + *bad;
  TlsSetup setup;
  if (t.acme) {
    // Serve a self-signed certificate until the CA has issued the real one.
    const std::string dir = config.data_dir + "/tls-bootstrap";
    options.cert_file = dir + "/cert.pem";
    options.key_file = dir + "/key.pem";
    if (auto error = write_self_signed(options.cert_file, options.key_file, t.acme->domains, 7); !error.empty()) {
      return "TLS bootstrap certificate: " + error;
    }
    setup.challenges = std::make_shared<net::acme::ChallengeStore>();
  } else {
    options.cert_file = t.cert_file;
    options.key_file = core::secret_file_path(t.key_file, "TLS_KEY").value_or(t.key_file);
  }
  auto created = net::tls::TlsContextProvider::create(options);
  if (!created.provider) return "listen.public.tls: " + created.error;
  setup.provider = created.provider;
  if (t.acme) {
    net::acme::AcmeConfig a;
    a.directory_url = t.acme->directory_url;
    a.email = t.acme->email;
    a.domains = t.acme->domains;
    a.ca_file = t.acme->ca_file;
    a.data_dir = config.data_dir;
    a.retry_initial = t.acme->retry_min;
    a.retry_max = t.acme->retry_max;
    std::weak_ptr<net::tls::TlsContextProvider> weak = setup.provider;
    auto manager = net::acme::CertificateManager::create(
        a, setup.challenges, [weak](const std::filesystem::path& cert, const std::filesystem::path& key) {
          if (auto provider = weak.lock()) provider->reload_from(cert.string(), key.string());
        });
    if (!manager) return "listen.public.tls.acme: " + manager.error();
    setup.acme = *manager;
  }
  return setup;
}

}  // namespace bastion::app
