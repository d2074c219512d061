#include "mcp/http_headers.hpp"

#include <algorithm>
#include <cctype>

#include "mcp/protocol.hpp"

namespace bastion::mcp {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::optional<std::string> strict_base64(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  std::size_t padding = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else if (c == '=' && i >= in.size() - 2) {
      ++padding;
      continue;
    } else {
      return std::nullopt;
    }
    if (padding) return std::nullopt;  // data after padding
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  if (padding > 2) return std::nullopt;
  return out;
}

}  // namespace

bool accepts(std::string_view header, std::string_view media_type) {
  auto slash = media_type.find('/');
  auto type = media_type.substr(0, slash);
  std::size_t pos = 0;
  while (pos <= header.size()) {
    auto comma = header.find(',', pos);
    auto item = trim(header.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    auto semi = item.find(';');
    auto range = trim(item.substr(0, semi));
    bool zero_q = false;
    if (semi != std::string_view::npos) {
      auto params = item.substr(semi + 1);
      auto q = params.find("q=");
      if (q != std::string_view::npos) {
        auto value = trim(params.substr(q + 2));
        zero_q = value == "0" || value == "0.0" || value == "0.00" || value == "0.000";
      }
    }
    if (!zero_q && (iequals(range, media_type) || range == "*/*" ||
                    (range.size() == type.size() + 2 && iequals(range.substr(0, type.size()), type) &&
                     range.substr(type.size()) == "/*"))) {
      return true;
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return false;
}

std::optional<std::string> decode_header_value(std::string_view raw) {
  auto v = trim(raw);
  constexpr std::string_view prefix = "=?base64?";
  constexpr std::string_view suffix = "?=";
  if (v.size() >= prefix.size() + suffix.size() && v.substr(0, prefix.size()) == prefix &&
      v.substr(v.size() - suffix.size()) == suffix) {
    return strict_base64(v.substr(prefix.size(), v.size() - prefix.size() - suffix.size()));
  }
  return std::string(v);
}

HeaderCheck check_method_headers(const Message& request, std::optional<std::string_view> method_header,
                                 std::optional<std::string_view> name_header) {
  if (!method_header) return {false, "Header mismatch: Mcp-Method header is required"};
  auto method = trim(*method_header);
  if (method != request.method()) {
    return {false, "Header mismatch: Mcp-Method header value '" + std::string(method) +
                       "' does not match body value '" + std::string(request.method()) + "'"};
  }
  auto m = request.method();
  const bool needs_name = m == "tools/call" || m == "prompts/get" || m == "resources/read";
  if (!needs_name) return {};
  auto body_name = target_name(request);
  if (!body_name) return {};  // the body lacks the name: the method itself will reject it
  if (!name_header) return {false, "Header mismatch: Mcp-Name header is required for " + std::string(m)};
  auto decoded = decode_header_value(*name_header);
  if (!decoded) return {false, "Header mismatch: Mcp-Name header is not valid Base64"};
  if (*decoded != *body_name) {
    return {false, "Header mismatch: Mcp-Name header value '" + *decoded +
                       "' does not match body value '" + std::string(*body_name) + "'"};
  }
  return {};
}

HeaderCheck check_param_headers(const json::object& input_schema, const json::object* arguments,
                                const ParamHeaders& headers) {
  const auto* props = input_schema.if_contains("properties");
  if (!props || !props->is_object()) return {};
  for (const auto& [prop, schema] : props->get_object()) {
    const auto* s = schema.if_object();
    const auto* mark = s ? s->if_contains("x-mcp-header") : nullptr;
    if (!mark || !mark->is_string() || mark->get_string().empty()) continue;
    std::string wanted(mark->get_string());
    std::transform(wanted.begin(), wanted.end(), wanted.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const json::value* value = arguments ? arguments->if_contains(prop) : nullptr;
    const std::string* raw = nullptr;
    for (const auto& [name, v] : headers) {
      if (name == wanted) raw = &v;
    }
    const std::string header_name = "Mcp-Param-" + std::string(mark->get_string());
    if (raw) {
      auto decoded = decode_header_value(*raw);
      if (!decoded) return {false, "Header mismatch: " + header_name + " is not valid Base64"};
      if (!value || value->is_null()) continue;  // header without a value: nothing to compare
      bool same = false;
      if (value->is_string()) {
        same = *decoded == value->get_string();
      } else if (value->is_bool()) {
        same = *decoded == (value->get_bool() ? "true" : "false");
      } else if (value->is_number()) {
        boost::system::error_code ec;
        auto parsed = json::parse(*decoded, ec);
        same = !ec && parsed.is_number() && parsed.to_number<double>() == value->to_number<double>();
      }
      if (!same) {
        return {false, "Header mismatch: " + header_name + " value '" + *decoded +
                           "' does not match argument '" + std::string(prop) + "'"};
      }
    } else if (value && !value->is_null()) {
      return {false, "Header mismatch: " + header_name + " header is required for argument '" +
                         std::string(prop) + "'"};
    }
  }
  return {};
}

}  // namespace bastion::mcp
