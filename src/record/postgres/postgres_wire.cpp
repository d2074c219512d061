#include "record/postgres/postgres_wire.hpp"

#include <bit>
#include <chrono>
#include <cstring>
#include <limits>

namespace bastion::record::pg {
namespace {

using Micros = std::chrono::microseconds;

std::uint64_t load_be(const char* bytes, int width) {
  std::uint64_t value = 0;
  for (int i = 0; i < width; ++i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return value;
}

void store_be(std::string& out, std::uint64_t value, int width) {
  for (int shift = (width - 1) * 8; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

// Length of the valid UTF-8 sequence starting at text[i] (never NUL), or 0 if it is invalid.
std::size_t utf8_sequence(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead == 0) return 0;
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xbf;  // allowed range of the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;   // overlong
    if (lead == 0xed) high = 0x9f;  // UTF-16 surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;   // overlong
    if (lead == 0xf4) high = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
  }
  return length;
}

}  // namespace

std::int64_t to_pg_micros(Clock::time_point time) {
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(time.time_since_epoch());
  return ms.count() * 1000 - kPgEpochUnixMicros;
}

Clock::time_point from_pg_micros(std::int64_t micros) {
  // Clock::duration may be finer than microseconds: clamp before converting so nothing overflows.
  const auto lowest =
      std::chrono::duration_cast<Micros>(Clock::time_point::min().time_since_epoch());
  const auto highest =
      std::chrono::duration_cast<Micros>(Clock::time_point::max().time_since_epoch());
  Micros unix_micros;
  if (micros > highest.count() - kPgEpochUnixMicros) {
    unix_micros = highest;
  } else if (micros < lowest.count() - kPgEpochUnixMicros) {
    unix_micros = lowest;
  } else {
    unix_micros = Micros{micros + kPgEpochUnixMicros};
  }
  return Clock::time_point{std::chrono::duration_cast<Clock::duration>(unix_micros)};
}

void put_i16(std::string& out, std::int16_t value) {
  store_be(out, static_cast<std::uint16_t>(value), 2);
}
void put_i32(std::string& out, std::int32_t value) {
  store_be(out, static_cast<std::uint32_t>(value), 4);
}
void put_i64(std::string& out, std::int64_t value) {
  store_be(out, static_cast<std::uint64_t>(value), 8);
}
void put_f64(std::string& out, double value) {
  store_be(out, std::bit_cast<std::uint64_t>(value), 8);
}
std::int64_t get_i64(const char* bytes) { return static_cast<std::int64_t>(load_be(bytes, 8)); }
double get_f64(const char* bytes) { return std::bit_cast<double>(load_be(bytes, 8)); }

bool is_storable_text(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = utf8_sequence(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string to_storable_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = utf8_sequence(text, i);
    if (length == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

std::string clean_message(std::string_view message, std::string_view secret) {
  std::string text(message);
  if (!secret.empty()) {
    for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
      text.replace(at, secret.size(), "[redacted]");
      at += std::strlen("[redacted]");
    }
  }
  std::string out;
  out.reserve(text.size());
  bool pending_break = false;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      pending_break = !out.empty();
      continue;
    }
    if (pending_break) {
      out += "; ";
      pending_break = false;
    }
    out += c;
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '\t' || out.back() == ';')) {
    out.pop_back();
  }
  return out;
}

}  // namespace bastion::record::pg
