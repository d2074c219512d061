#include "core/error_shape.hpp"

#include <algorithm>

namespace bastion::core {
namespace {

constexpr std::size_t kMaxPatternBytes = 200;

bool is_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}
bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// End (one past the closing quote) of a quoted string opening at s[i], or npos.
std::size_t quote_end(std::string_view s, std::size_t i) {
  char q = s[i];
  if (q == '\'') {
    // An apostrophe inside a word ("can't") opens nothing.
    if (i > 0 && is_alnum(s[i - 1])) return std::string_view::npos;
  }
  for (std::size_t k = i + 1; k < s.size(); ++k) {
    if (s[k] == '\\' && q != '\'') {
      ++k;
      continue;
    }
    if (s[k] == q) {
      if (q == '\'' && k + 1 < s.size() && is_alnum(s[k + 1])) continue;  // "'s" etc.
      return k + 1;
    }
  }
  return std::string_view::npos;
}

// Request ids, hashes, UUIDs: long hex runs with both digits and letters, or long mixed tokens
// with several of each.
bool id_like(std::string_view t) {
  std::size_t digits = 0, letters = 0, hex_letters = 0;
  bool hex_only = true;
  for (char c : t) {
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c >= 'a' && c <= 'z') {
      ++letters;
      if (c <= 'f') ++hex_letters; else hex_only = false;
    } else if (c != '-') {
      hex_only = false;
    }
  }
  if (hex_only && t.size() >= 8 && digits > 0 && hex_letters > 0) return true;
  return t.size() >= 16 && digits >= 3 && letters >= 3;
}

}  // namespace

std::string normalize_error_message(std::string_view message) {
  // Pass 1: lower-case ASCII, quoted strings -> <str>.
  std::string lowered;
  lowered.reserve(std::min<std::size_t>(message.size(), 4096));
  for (std::size_t i = 0; i < message.size() && lowered.size() < 4 * kMaxPatternBytes;) {
    char c = message[i];
    if (c == '"' || c == '\'' || c == '`') {
      std::size_t end = quote_end(message, i);
      if (end != std::string_view::npos) {
        lowered += "<str>";
        i = end;
        continue;
      }
    }
    lowered += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    ++i;
  }
  // Pass 2: word tokens -> <id> or with digit runs as '#'; whitespace collapsed.
  std::string out;
  out.reserve(lowered.size());
  std::size_t i = 0;
  while (i < lowered.size()) {
    char c = lowered[i];
    if (is_space(c)) {
      while (i < lowered.size() && is_space(lowered[i])) ++i;
      if (!out.empty()) out += ' ';
      continue;
    }
    if (!is_word(c)) {
      out += c;
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < lowered.size() && is_word(lowered[j])) ++j;
    std::string_view token(lowered.data() + i, j - i);
    if (id_like(token)) {
      out += "<id>";
    } else {
      for (std::size_t k = 0; k < token.size(); ++k) {
        bool digit = token[k] >= '0' && token[k] <= '9';
        if (!digit) {
          out += token[k];
        } else if (k == 0 || !(token[k - 1] >= '0' && token[k - 1] <= '9')) {
          out += '#';
        }
      }
    }
    i = j;
  }
  if (out.size() > kMaxPatternBytes) {
    std::size_t cut = kMaxPatternBytes;
    // Never split a UTF-8 sequence: back off over continuation bytes.
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace bastion::core
