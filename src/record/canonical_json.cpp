#include "record/canonical_json.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace bastion::record {
namespace json = boost::json;
namespace {

// UTF-8 -> UTF-16 code units, only to order member names. Malformed bytes (not produced by the
// Boost.JSON parser, but possible in values built in memory) sort as U+FFFD.
std::u16string utf16_units(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    auto b0 = static_cast<unsigned char>(s[i]);
    std::uint32_t cp = 0xFFFD;
    std::size_t len = 1;
    auto cont = [&](std::size_t k) {
      return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    };
    auto at = [&](std::size_t k) {
      return static_cast<std::uint32_t>(static_cast<unsigned char>(s[i + k]) & 0x3F);
    };
    if (b0 < 0x80) {
      cp = b0;
    } else if ((b0 & 0xE0) == 0xC0 && cont(1)) {
      cp = ((b0 & 0x1Fu) << 6) | at(1);
      len = 2;
    } else if ((b0 & 0xF0) == 0xE0 && cont(1) && cont(2)) {
      cp = ((b0 & 0x0Fu) << 12) | (at(1) << 6) | at(2);
      len = 3;
    } else if ((b0 & 0xF8) == 0xF0 && cont(1) && cont(2) && cont(3)) {
      cp = ((b0 & 0x07u) << 18) | (at(1) << 12) | (at(2) << 6) | at(3);
      len = 4;
    }
    if (cp >= 0x10000 && cp <= 0x10FFFF) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(cp > 0x10FFFF ? 0xFFFD : cp));
    }
    i += len;
  }
  return out;
}

void write_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out.push_back(hex[u >> 4]);
          out.push_back(hex[u & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53

void write_value(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      out += "null";
      break;
    case json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      break;
    case json::kind::int64: {
      std::int64_t i = v.get_int64();
      if (static_cast<double>(i) >= -kMaxExactInteger &&
          static_cast<double>(i) <= kMaxExactInteger) {
        out += std::to_string(i);
      } else {
        out += es_number(static_cast<double>(i));
      }
      break;
    }
    case json::kind::uint64: {
      std::uint64_t u = v.get_uint64();
      if (static_cast<double>(u) <= kMaxExactInteger) {
        out += std::to_string(u);
      } else {
        out += es_number(static_cast<double>(u));
      }
      break;
    }
    case json::kind::double_: {
      double d = v.get_double();
      out += std::isfinite(d) ? es_number(d) : std::string("null");
      break;
    }
    case json::kind::string:
      write_string(out, v.get_string());
      break;
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        write_value(out, e);
      }
      out.push_back(']');
      break;
    }
    case json::kind::object: {
      const auto& obj = v.get_object();
      std::vector<const json::key_value_pair*> members;
      members.reserve(obj.size());
      bool ascii = true;
      for (const auto& kv : obj) {
        members.push_back(&kv);
        for (char c : kv.key()) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
      }
      if (ascii) {
        // ASCII names (nearly all): UTF-16 code-unit order is byte order.
        std::sort(members.begin(), members.end(), [](const auto* a, const auto* b) { return a->key() < b->key(); });
      } else {
        std::vector<std::pair<std::u16string, const json::key_value_pair*>> keyed;
        keyed.reserve(members.size());
        for (const auto* kv : members) keyed.emplace_back(utf16_units(kv->key()), kv);
        std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
          if (a.first != b.first) return a.first < b.first;
          return a.second->key() < b.second->key();  // malformed names: stable, byte-wise
        });
        for (std::size_t i = 0; i < keyed.size(); ++i) members[i] = keyed[i].second;
      }
      out.push_back('{');
      bool first = true;
      for (const auto* kv : members) {
        if (!first) out.push_back(',');
        first = false;
        write_string(out, kv->key());
        out.push_back(':');
        write_value(out, kv->value());
      }
      out.push_back('}');
      break;
    }
  }
}

// Boost.JSON's own value-building handler, except that doubles are re-read with std::from_chars
// (correctly rounded) from the number's text.
struct PreciseHandler {
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
  using ec_t = boost::system::error_code;

  json::value_stack st;
  std::string number;

  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_array_begin(ec_t&) { return true; }
  bool on_array_end(std::size_t n, ec_t&) {
    st.push_array(n);
    return true;
  }
  bool on_object_begin(ec_t&) { return true; }
  bool on_object_end(std::size_t n, ec_t&) {
    st.push_object(n);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, ec_t&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, ec_t&) {
    st.push_string(s);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, ec_t&) {
    st.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, ec_t&) {
    st.push_key(s);
    return true;
  }
  bool on_number_part(json::string_view s, ec_t&) {
    number.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, json::string_view, ec_t&) {
    number.clear();
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, ec_t&) {
    number.clear();
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view s, ec_t&) {
    number.append(s.data(), s.size());
    double precise = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), precise);
    if (ec == std::errc{} && end == number.data() + number.size()) d = precise;
    number.clear();
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, ec_t&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(ec_t&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, ec_t&) { return true; }
  bool on_comment(json::string_view, ec_t&) { return true; }
};

}  // namespace

json::value parse_json_precise(std::string_view text, boost::system::error_code& ec,
                               std::size_t max_depth) {
  json::parse_options options;
  options.max_depth = max_depth;
  json::basic_parser<PreciseHandler> parser(options);
  parser.handler().st.reset();
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && used < text.size()) ec = json::error::extra_data;
  if (ec) return nullptr;
  return parser.handler().st.release();
}

std::string es_number(double value) {
  if (value == 0 || !std::isfinite(value)) return "0";  // -0 prints "0"; callers exclude NaN/Inf
  char buf[64];
  // Shortest round-trip digits in scientific form, e.g. "-1.2345e+02".
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  if (ec != std::errc{}) return "0";
  std::string_view sci(buf, static_cast<std::size_t>(end - buf));
  std::string out;
  if (sci.front() == '-') {
    out.push_back('-');
    sci.remove_prefix(1);
  }
  auto epos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, epos)) {
    if (c != '.') digits.push_back(c);
  }
  int exp10 = 0;
  auto exp_text = sci.substr(epos + 1);
  if (!exp_text.empty() && exp_text.front() == '+') exp_text.remove_prefix(1);
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exp10);
  // ECMA-262 Number::toString: value = 0.digits × 10^n, k digits.
  const int k = static_cast<int>(digits.size());
  const int n = exp10 + 1;
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, static_cast<std::size_t>(n));
    out.push_back('.');
    out += digits.substr(static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += digits;
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out += digits.substr(1);
    }
    out.push_back('e');
    out.push_back(n - 1 >= 0 ? '+' : '-');
    out += std::to_string(n - 1 >= 0 ? n - 1 : 1 - n);
  }
  return out;
}

std::string canonical_json(const json::value& value) {
  std::string out;
  out.reserve(256);
  write_value(out, value);
  return out;
}

std::string canonical_hash(const json::value& value) { return sha256_hex(canonical_json(value)); }

}  // namespace bastion::record
