#include "demo/encoding.hpp"

#include <array>

namespace bastion::demo {
namespace {

constexpr std::string_view kStandard =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrlSafe =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encode(std::string_view bytes, std::string_view alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = (std::uint32_t{static_cast<std::uint8_t>(bytes[i])} << 16) |
                            (std::uint32_t{static_cast<std::uint8_t>(bytes[i + 1])} << 8) |
                            std::uint32_t{static_cast<std::uint8_t>(bytes[i + 2])};
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t n = std::uint32_t{static_cast<std::uint8_t>(bytes[i])} << 16;
    if (rest == 2) {
      n |= std::uint32_t{static_cast<std::uint8_t>(bytes[i + 1])} << 8;
    }
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    if (rest == 2) {
      out += alphabet[(n >> 6) & 63];
    }
    if (pad) {
      out.append(rest == 1 ? 2 : 1, '=');
    }
  }
  return out;
}

}  // namespace

std::string to_hex(std::span<const std::uint8_t> bytes) {
  constexpr std::string_view kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const std::uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

std::string base64_encode(std::string_view bytes) { return encode(bytes, kStandard, true); }

std::string base64url_encode(std::string_view bytes) { return encode(bytes, kUrlSafe, false); }

std::optional<std::string> base64url_decode(std::string_view text) {
  std::array<int, 256> value{};
  value.fill(-1);
  for (std::size_t i = 0; i < kUrlSafe.size(); ++i) {
    value[static_cast<unsigned char>(kUrlSafe[i])] = static_cast<int>(i);
  }
  if (text.size() % 4 == 1) {
    return std::nullopt;  // no valid encoding leaves a single trailing character
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t accumulator = 0;
  int bits = 0;
  for (const char c : text) {
    const int v = value[static_cast<unsigned char>(c)];
    if (v < 0) {
      return std::nullopt;
    }
    accumulator = (accumulator << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((accumulator >> bits) & 0xff);
    }
  }
  // Leftover bits must be zero, otherwise two different texts would decode to the same bytes.
  if ((accumulator & ((1u << bits) - 1)) != 0) {
    return std::nullopt;
  }
  return out;
}

}  // namespace bastion::demo
