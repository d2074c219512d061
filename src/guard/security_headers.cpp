#include "guard/security_headers.hpp"

namespace bastion::guard {

SecurityHeaders::SecurityHeaders(const core::SecurityHeadersConfig& c) : hsts_(c.hsts) {
  auto add = [this](const char* name, const std::string& value) {
    if (!value.empty()) always_.emplace_back(name, value);
  };
  add("Content-Security-Policy", c.content_security_policy);
  add("X-Frame-Options", c.x_frame_options);
  add("X-Content-Type-Options", c.x_content_type_options);
  add("Referrer-Policy", c.referrer_policy);
  for (const auto& [name, value] : c.extra) add(name.c_str(), value);
}

void SecurityHeaders::apply(boost::beast::http::fields& fields, bool tls) const {
  for (const auto& [name, value] : always_) fields.set(name, value);
  if (tls && !hsts_.empty()) fields.set("Strict-Transport-Security", hsts_);
  // No version banner: Beast sets no Server header, and none is added here.
  fields.erase(boost::beast::http::field::server);
}

}  // namespace bastion::guard
