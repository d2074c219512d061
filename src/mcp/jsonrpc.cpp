#include "mcp/jsonrpc.hpp"

#include <cmath>

namespace bastion::mcp {

std::string_view Message::method() const {
  if (auto* m = body.if_contains("method"); m && m->is_string()) return m->get_string();
  return {};
}

const json::object* Message::params() const {
  if (auto* p = body.if_contains("params")) return p->if_object();
  return nullptr;
}

json::object* Message::params() {
  if (auto* p = body.if_contains("params")) return p->if_object();
  return nullptr;
}

bool valid_id(const json::value& id) {
  if (id.is_string()) return true;
  if (id.is_int64() || id.is_uint64()) return true;
  // Integral doubles (1.0) are integers in JSON terms; fractions are not valid MCP ids.
  if (id.is_double()) {
    // Checked before any conversion: casting 1e109 to an integer is undefined behaviour.
    const double d = id.get_double();
    return std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9.2e18;
  }
  return false;
}

std::optional<Message> classify(json::value value, ParseFailure& failure) {
  failure = ParseFailure{code::invalid_request, "", nullptr};
  auto* obj = value.if_object();
  if (!obj) {
    failure.message = "a JSON-RPC message must be an object";
    return std::nullopt;
  }
  if (auto* id = obj->if_contains("id"); id && valid_id(*id)) failure.id = *id;
  auto* version = obj->if_contains("jsonrpc");
  if (!version || !version->is_string() || version->get_string() != "2.0") {
    failure.message = "\"jsonrpc\" must be \"2.0\"";
    return std::nullopt;
  }
  Message msg;
  auto* method = obj->if_contains("method");
  auto* id = obj->if_contains("id");
  if (method) {
    if (!method->is_string() || method->get_string().empty()) {
      failure.message = "\"method\" must be a non-empty string";
      return std::nullopt;
    }
    if (auto* params = obj->if_contains("params"); params && !params->is_object()) {
      failure.message = "\"params\" must be an object";
      return std::nullopt;
    }
    if (id) {
      if (!valid_id(*id)) {
        failure.message = "\"id\" must be a string or an integer";
        return std::nullopt;
      }
      msg.kind = MessageKind::request;
    } else {
      msg.kind = MessageKind::notification;
    }
  } else {
    bool has_result = obj->contains("result");
    auto* error = obj->if_contains("error");
    if (!id || has_result == (error != nullptr)) {
      failure.message = "not a request, notification or response";
      return std::nullopt;
    }
    if (!valid_id(*id) && !(error && id->is_null())) {
      failure.message = "\"id\" must be a string or an integer";
      return std::nullopt;
    }
    if (error) {
      auto* e = error->if_object();
      if (!e || !e->contains("code") || !(*e)["code"].is_number()) {
        failure.message = "\"error\" must be an object with a numeric code";
        return std::nullopt;
      }
    }
    msg.kind = MessageKind::response;
  }
  msg.body = std::move(*obj);
  return msg;
}

ParseResult parse_body(std::string_view text, const ParseLimits& limits) {
  ParseResult out;
  json::parse_options options;
  options.max_depth = limits.max_depth;
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec, {}, options);
  if (ec) {
    ParseFailure f;
    f.code = code::parse_error;
    if (ec == json::error::too_deep) {
      f.message = "JSON nesting deeper than " + std::to_string(limits.max_depth);
    } else if (ec == json::error::syntax && !text.empty()) {
      f.message = "invalid JSON (or invalid UTF-8)";
    } else {
      f.message = "invalid JSON: " + ec.message();
    }
    out.failure = std::move(f);
    return out;
  }
  ParsedBody body;
  if (auto* arr = doc.if_array()) {
    if (arr->empty()) {
      out.failure = ParseFailure{code::invalid_request, "empty batch", nullptr};
      return out;
    }
    body.batch = true;
    for (auto& item : *arr) {
      ParseFailure f;
      auto msg = classify(std::move(item), f);
      if (!msg) {
        out.failure = std::move(f);
        return out;
      }
      body.messages.push_back(std::move(*msg));
    }
  } else {
    ParseFailure f;
    auto msg = classify(std::move(doc), f);
    if (!msg) {
      out.failure = std::move(f);
      return out;
    }
    body.messages.push_back(std::move(*msg));
  }
  out.body = std::move(body);
  return out;
}

std::optional<Message> parse_upstream_line(std::string_view line, std::size_t max_depth) {
  json::parse_options options;
  options.max_depth = max_depth;
  boost::system::error_code ec;
  json::value doc = json::parse(line, ec, {}, options);
  if (ec) return std::nullopt;
  ParseFailure f;
  return classify(std::move(doc), f);
}

namespace {
// Bastion's own messages quote client input (header values, a decoded Mcp-Name), which may be any
// bytes; Boost.JSON writes strings unvalidated, so invalid UTF-8 becomes U+FFFD here.
std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3
                        : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (std::size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && n > 2) {  // no overlong forms, surrogates or code points past U+10FFFF
      const auto d = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xE0 && d < 0xA0) && !(c == 0xED && d >= 0xA0) && !(c == 0xF0 && d < 0x90) &&
           !(c == 0xF4 && d >= 0x90);
    }
    if (ok) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}
}  // namespace

json::object make_error(const json::value& id, int error_code, std::string_view message,
                        const json::value* data) {
  json::object err;
  err["code"] = error_code;
  err["message"] = valid_utf8(message);
  if (data) err["data"] = *data;
  json::object out;
  out["jsonrpc"] = "2.0";
  out["id"] = id;
  out["error"] = std::move(err);
  return out;
}

json::object make_result(const json::value& id, json::value result) {
  json::object out;
  out["jsonrpc"] = "2.0";
  out["id"] = id;
  out["result"] = std::move(result);
  return out;
}

}  // namespace bastion::mcp
