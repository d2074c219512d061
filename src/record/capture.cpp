#include "record/capture.hpp"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cctype>

namespace bastion::record {
namespace json = boost::json;
namespace {

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_b64url(char c) { return is_alnum(c) || c == '-' || c == '_'; }
bool is_token68(char c) {
  return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' ||
         c == '=';
}
bool is_upper_alnum(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

bool starts_with_ci(std::string_view s, std::size_t at, std::string_view prefix) {
  if (s.size() - at < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[at + i])) != prefix[i]) return false;
  }
  return true;
}

template <class Pred>
std::size_t run(std::string_view s, std::size_t at, Pred pred) {
  std::size_t end = at;
  while (end < s.size() && pred(s[end])) ++end;
  return end - at;
}

struct Span {
  std::size_t mask_begin, end;
};

// The secret that starts at `i` (at a word start), if any: the part to mask and where it ends.
std::optional<Span> match_secret(std::string_view s, std::size_t i) {
  const char c = s[i];
  if (c == 'b' || c == 'B') {  // the scheme word stays, the credential goes
    if (starts_with_ci(s, i, "bearer")) {
      std::size_t p = i + 6;
      std::size_t spaces = run(s, p, [](char x) { return x == ' '; });
      p += spaces;
      std::size_t n = run(s, p, is_token68);
      if (spaces > 0 && n >= 8) return Span{p, p + n};
    }
  }
  if (s.compare(i, 3, "eyJ") == 0) {  // JWT: three base64url parts
    std::size_t p = i;
    std::size_t a = run(s, p, is_b64url);
    p += a;
    if (a >= 4 && p < s.size() && s[p] == '.') {
      std::size_t b = run(s, p + 1, is_b64url);
      p += 1 + b;
      if (b >= 4 && p < s.size() && s[p] == '.') {
        p += 1 + run(s, p + 1, is_b64url);
        return Span{i, p};
      }
    }
  }
  if (s.compare(i, 3, "sk-") == 0) {
    std::size_t n = run(s, i + 3, is_b64url);
    if (n >= 16) return Span{i, i + 3 + n};
  }
  for (std::string_view prefix : {"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}) {
    if (s.compare(i, prefix.size(), prefix) == 0) {
      std::size_t n = run(s, i + prefix.size(), is_alnum);
      if (n >= 20) return Span{i, i + prefix.size() + n};
    }
  }
  if (s.compare(i, 11, "github_pat_") == 0) {
    std::size_t n = run(s, i + 11, [](char x) { return is_alnum(x) || x == '_'; });
    if (n >= 20) return Span{i, i + 11 + n};
  }
  if (s.compare(i, 4, "AKIA") == 0 || s.compare(i, 4, "ASIA") == 0) {
    std::size_t n = run(s, i + 4, is_upper_alnum);
    if (n == 16 && (i + 20 == s.size() || !is_alnum(s[i + 20]))) return Span{i, i + 20};
  }
  if (s.compare(i, 3, "xox") == 0 && i + 4 < s.size() && s[i + 4] == '-') {
    std::size_t n = run(s, i + 5, [](char x) { return is_alnum(x) || x == '-'; });
    if (n >= 10) return Span{i, i + 5 + n};
  }
  if (s.compare(i, 11, "-----BEGIN ") == 0) {
    auto header_end = s.find("-----", i + 11);
    if (header_end != std::string_view::npos && header_end - i < 80) {
      auto header = s.substr(i, header_end - i);
      if (header.find("PRIVATE KEY") != std::string_view::npos) {
        auto end_marker = s.find("-----END ", header_end + 5);
        if (end_marker == std::string_view::npos) return Span{i, s.size()};
        auto close = s.find("-----", end_marker + 9);
        return Span{i, close == std::string_view::npos ? s.size() : close + 5};
      }
    }
  }
  return std::nullopt;
}

using Pointer = std::vector<std::string>;

void redact_node(json::value& v, const std::vector<const Pointer*>& active, std::size_t depth);

void redact_child(json::value& child, std::string_view token,
                  const std::vector<const Pointer*>& active, std::size_t depth) {
  std::vector<const Pointer*> next;
  for (const auto* p : active) {
    if (p->size() > depth && ((*p)[depth] == token || (*p)[depth] == "*")) {
      if (p->size() == depth + 1) {
        child = json::string(kRedactedText);
        return;
      }
      next.push_back(p);
    }
  }
  redact_node(child, next, depth + 1);
}

void redact_node(json::value& v, const std::vector<const Pointer*>& active, std::size_t depth) {
  if (auto* obj = v.if_object()) {
    for (auto& kv : *obj) {
      if (is_secret_key(kv.key())) {
        kv.value() = json::string(kRedactedText);
      } else {
        redact_child(kv.value(), kv.key(), active, depth);
      }
    }
  } else if (auto* arr = v.if_array()) {
    for (std::size_t i = 0; i < arr->size(); ++i) {
      redact_child((*arr)[i], std::to_string(i), active, depth);
    }
  } else if (auto* str = v.if_string()) {
    std::string masked = mask_secret_shapes(*str);
    if (masked != std::string_view(*str)) *str = masked;
  }
}

}  // namespace

std::optional<CaptureMode> parse_capture_mode(std::string_view text) {
  if (text == "hashed") return CaptureMode::hashed;
  if (text == "redacted") return CaptureMode::redacted;
  if (text == "full") return CaptureMode::full;
  return std::nullopt;
}

std::string_view to_string(CaptureMode mode) {
  switch (mode) {
    case CaptureMode::hashed:
      return "hashed";
    case CaptureMode::redacted:
      return "redacted";
    case CaptureMode::full:
      return "full";
  }
  return "hashed";
}

std::optional<std::vector<std::string>> parse_json_pointer(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer.front() != '/') return std::nullopt;
  std::size_t pos = 1;
  while (true) {
    auto slash = pointer.find('/', pos);
    auto raw =
        pointer.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    std::string token;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '~') {
        token.push_back(raw[i]);
      } else if (i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        token.push_back(raw[i + 1] == '0' ? '~' : '/');
        ++i;
      } else {
        return std::nullopt;
      }
    }
    tokens.push_back(std::move(token));
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  return tokens;
}

std::optional<std::string> capture_config_error(const CaptureConfig& config) {
  for (const auto& path : config.redact_paths) {
    if (!parse_json_pointer(path)) {
      return "invalid redact path \"" + path + "\": expected a JSON Pointer such as /arguments/ssn";
    }
  }
  return std::nullopt;
}

bool is_secret_key(std::string_view key) {
  std::string k;
  k.reserve(key.size());
  for (char c : key) {
    if (c == '-' || c == '_' || c == '.' || c == ' ') continue;
    k.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (k == "pwd" || k == "auth") return true;
  static constexpr std::array<std::string_view, 14> suffixes = {
      "password",   "passwd",      "passphrase", "secret",        "token",
      "apikey",     "accesskey",   "privatekey", "authorization", "cookie",
      "credential", "credentials", "sessionid",  "clientsecret"};
  return std::any_of(suffixes.begin(), suffixes.end(), [&](std::string_view s) {
    return k.size() >= s.size() && k.compare(k.size() - s.size(), s.size(), s) == 0;
  });
}

std::string mask_secret_shapes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const bool word_start = i == 0 || !is_alnum(text[i - 1]);
    if (word_start) {
      if (auto span = match_secret(text, i)) {
        out.append(text.substr(i, span->mask_begin - i));
        out.append(kRedactedText);
        i = span->end;
        continue;
      }
    }
    out.push_back(text[i]);
    ++i;
  }
  return out;
}

json::value redact_payload(const json::value& payload,
                           const std::vector<std::string>& redact_paths) {
  std::vector<Pointer> pointers;
  for (const auto& path : redact_paths) {
    if (auto p = parse_json_pointer(path)) {
      if (p->empty()) return json::string(kRedactedText);
      pointers.push_back(std::move(*p));
    }
  }
  std::vector<const Pointer*> active;
  for (const auto& p : pointers) active.push_back(&p);
  json::value copy = payload;
  redact_node(copy, active, 0);
  return copy;
}

std::string cap_payload(std::string text, std::size_t max_bytes) {
  max_bytes = std::max(max_bytes, kMinPayloadCap);
  if (text.size() <= max_bytes) return text;
  const std::size_t original = text.size();
  std::size_t keep = max_bytes;
  for (int attempt = 0; attempt < 64; ++attempt) {
    while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xC0) == 0x80)
      --keep;  // UTF-8 boundary
    json::object marker;
    marker["_truncated"] = true;
    marker["bytes"] = original;
    marker["prefix"] = std::string_view(text).substr(0, keep);
    std::string out = json::serialize(marker);
    if (out.size() <= max_bytes) return out;
    std::size_t excess = out.size() - max_bytes;
    keep = keep > excess ? keep - excess : 0;
  }
  return json::serialize(json::object{{"_truncated", true}, {"bytes", original}, {"prefix", ""}});
}

PayloadCapture::PayloadCapture(CaptureConfig config) : config_(std::move(config)) {}

std::optional<std::string> PayloadCapture::capture(const json::value& payload) const {
  switch (config_.mode) {
    case CaptureMode::hashed:
      return std::nullopt;
    case CaptureMode::full:
      return cap_payload(json::serialize(payload), config_.max_payload_bytes);
    case CaptureMode::redacted:
      return cap_payload(json::serialize(redact_payload(payload, config_.redact_paths)),
                         config_.max_payload_bytes);
  }
  return std::nullopt;
}

}  // namespace bastion::record
