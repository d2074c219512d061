#include "guard/auth/resource_metadata.hpp"

#include <boost/json.hpp>

namespace bastion::guard::auth {
namespace json = boost::json;

namespace {

json::array to_array(const std::vector<std::string>& items) {
  json::array out;
  for (const auto& s : items) out.emplace_back(s);
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = char(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

json::object resource_metadata_json(const ResourceMetadata& m) {
  json::object o;
  o["resource"] = m.resource;
  o["authorization_servers"] = to_array(m.authorization_servers);
  if (!m.scopes_supported.empty()) o["scopes_supported"] = to_array(m.scopes_supported);
  o["bearer_methods_supported"] = to_array(m.bearer_methods_supported);
  if (m.resource_name) o["resource_name"] = *m.resource_name;
  if (m.resource_documentation) o["resource_documentation"] = *m.resource_documentation;
  return o;
}

std::string resource_metadata_document(const ResourceMetadata& m) {
  return json::serialize(resource_metadata_json(m));
}

std::optional<std::string> metadata_url_for(std::string_view resource) {
  const auto scheme_end = resource.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  const auto scheme = resource.substr(0, scheme_end);
  if (!ascii_iequals(scheme, "https") && !ascii_iequals(scheme, "http")) return std::nullopt;
  if (resource.find('#') != std::string_view::npos) return std::nullopt;  // RFC 9728 §1.2
  for (unsigned char c : resource) {
    if (c <= 0x20 || c >= 0x7f) return std::nullopt;
  }
  const auto authority_start = scheme_end + 3;
  auto rest_start = resource.find_first_of("/?", authority_start);
  if (rest_start == std::string_view::npos) rest_start = resource.size();
  const auto authority = resource.substr(authority_start, rest_start - authority_start);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  auto rest = resource.substr(rest_start);  // path and query
  // "any terminating slash following the host component MUST be removed" (RFC 9728 §3.1)
  if (!rest.empty() && rest.front() == '/' && (rest.size() == 1 || rest[1] == '?')) rest.remove_prefix(1);
  std::string out(resource.substr(0, rest_start));
  out += kWellKnownProtectedResource;
  out += rest;
  return out;
}

std::string metadata_path_for(std::string_view resource_path) {
  std::string out(kWellKnownProtectedResource);
  if (resource_path.empty() || resource_path == "/") return out;
  if (resource_path.front() != '/') out += '/';
  out += resource_path;
  return out;
}

std::string quote_header_value(std::string_view value) {
  std::string out = "\"";
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) continue;
    if (c == '"' || c == '\\') out += '\\';
    out += static_cast<char>(c);
  }
  out += '"';
  return out;
}

std::string www_authenticate(const BearerChallenge& c) {
  std::string out = "Bearer";
  bool first = true;
  auto param = [&](std::string_view name, std::string_view value) {
    out += first ? " " : ", ";
    first = false;
    out += name;
    out += '=';
    out += quote_header_value(value);
  };
  if (!c.error.empty()) param("error", c.error);
  const auto scope = join(c.scopes);
  if (!scope.empty()) param("scope", scope);
  if (!c.resource_metadata.empty()) param("resource_metadata", c.resource_metadata);
  if (!c.error_description.empty()) {
    // RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E (no quote, no backslash).
    std::string clean;
    for (unsigned char ch : c.error_description) {
      if (ch >= 0x20 && ch <= 0x7e && ch != '"' && ch != '\\') clean += static_cast<char>(ch);
    }
    if (!clean.empty()) param("error_description", clean);
  }
  return out;
}

std::string unauthorized_challenge(std::string_view metadata_url,
                                   const std::vector<std::string>& scopes) {
  // The MCP spec's example puts resource_metadata first for the plain 401.
  std::string out = "Bearer";
  bool first = true;
  if (!metadata_url.empty()) {
    out += " resource_metadata=" + quote_header_value(metadata_url);
    first = false;
  }
  const auto scope = join(scopes);
  if (!scope.empty()) out += std::string(first ? " " : ", ") + "scope=" + quote_header_value(scope);
  return out;
}

std::string invalid_token_challenge(std::string_view metadata_url, std::string_view description) {
  return www_authenticate({"invalid_token", {}, std::string(metadata_url), std::string(description)});
}

std::string insufficient_scope_challenge(std::string_view metadata_url,
                                         const std::vector<std::string>& scopes,
                                         std::string_view description) {
  return www_authenticate(
      {"insufficient_scope", scopes, std::string(metadata_url), std::string(description)});
}

}  // namespace bastion::guard::auth
