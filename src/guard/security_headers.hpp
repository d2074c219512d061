#pragma once
// The response headers every reply carries (the seed's set by default, each configurable),
// added by one function so no handler can forget them.
#include <boost/beast/http/fields.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/config.hpp"

namespace bastion::guard {

class SecurityHeaders {
 public:
  SecurityHeaders() = default;
  explicit SecurityHeaders(const core::SecurityHeadersConfig& config);
  // HSTS only over TLS: on plain HTTP a man in the middle could strip or forge it anyway,
  // and browsers ignore it there (RFC 6797 §7.2).
  void apply(boost::beast::http::fields& fields, bool tls) const;

 private:
  std::vector<std::pair<std::string, std::string>> always_;
  std::string hsts_;
};

}  // namespace bastion::guard
