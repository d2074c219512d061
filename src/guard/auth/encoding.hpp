#pragma once
// Small, strict codecs and digests shared by the authenticators (no Asio, no allocation surprises).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bastion::guard::auth {

// base64url (RFC 4648 §5) without padding, as JOSE uses it.
std::string base64url_encode(std::string_view bytes);
// Strict: rejects padding, characters outside the URL alphabet, impossible lengths (len % 4 == 1)
// and non-canonical encodings (unused trailing bits set), so one value has one encoding.
std::optional<std::string> base64url_decode(std::string_view text);

std::string hex_encode(std::string_view bytes);
// Lower- or upper-case hex; odd lengths and other characters are rejected.
std::optional<std::string> hex_decode(std::string_view text);

// SHA-256 of the bytes (32 raw bytes).
std::array<std::uint8_t, 32> sha256(std::string_view bytes);

// `count` bytes from the OpenSSL CSPRNG (RAND_bytes); std::nullopt when it fails.
std::optional<std::string> random_bytes(std::size_t count);

}  // namespace bastion::guard::auth
