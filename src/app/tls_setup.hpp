#pragma once
// TLS for the public listener: a context from configured files (watched for renewals), or
// certificates obtained and renewed by the built-in ACME client. Until ACME has issued the first
// certificate, a self-signed one (made at start, in the data directory) lets the listener run.
#include <memory>
#include <string>
#include <variant>

#include "core/config.hpp"
#include "net/acme/certificate_manager.hpp"
#include "net/acme/challenge_store.hpp"
#include "net/tls/tls_server_context.hpp"

namespace bastion::app {

struct TlsSetup {
  std::shared_ptr<net::tls::TlsContextProvider> provider;
  std::shared_ptr<net::acme::ChallengeStore> challenges;   // with ACME
  std::shared_ptr<net::acme::CertificateManager> acme;     // with ACME
};

// Reads certificate and key now (call before dropping privileges).
std::variant<TlsSetup, std::string> setup_tls(const core::Config& config);

// Writes a self-signed P-256 certificate for `names`, valid for `days`, key 0600.
std::string write_self_signed(const std::string& cert_file, const std::string& key_file,
                              const std::vector<std::string>& names, int days);

}  // namespace bastion::app
