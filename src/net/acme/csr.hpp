#pragma once
// Certificate keys, certificate signing requests and certificate inspection. Pure: no Asio.
#include <boost/system/result.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "net/acme/jws.hpp"

namespace bastion::net::acme {

// A DNS name we may ask a CA for over HTTP-01: LDH labels of 1..63 characters, 1..253 in
// total, at least two labels, lower case. Wildcards are refused (HTTP-01 cannot prove them).
bool valid_domain(std::string_view domain);

// DER-encoded PKCS#10 request signed with `key` (SHA-256): subject CN = the first domain when it
// fits (64 characters), every domain as a dNSName SAN. Fails on an empty list or an invalid name.
boost::system::result<std::string> make_csr_der(const EcKey& key, const std::vector<std::string>& domains);

struct CertificateInfo {
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  std::vector<std::string> dns_names;  // subjectAltName dNSName entries, as in the certificate
  std::string serial_hex;              // upper-case hex
  std::string issuer;                  // one-line issuer name (diagnostics)
  std::size_t chain_length = 0;        // certificates found in the PEM (leaf first)
};

// Parses the first certificate of a PEM chain (the leaf) and counts the rest. Fails when there
// is no certificate or a later one does not parse.
boost::system::result<CertificateInfo> parse_certificate_pem(std::string_view pem);
// True when the certificate's public key belongs to the private key.
bool key_matches_certificate(const EcKey& key, std::string_view certificate_pem);
// Every certificate of a PEM chain, each re-encoded as its own PEM block (leaf first).
std::vector<std::string> split_pem_chain(std::string_view pem);

// When to renew: notBefore + 2/3 of the lifetime (Caddy and certbot renew at about this point).
std::chrono::system_clock::time_point renewal_point(const CertificateInfo& info);

}  // namespace bastion::net::acme
