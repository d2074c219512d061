#pragma once
// Small, strict codecs and digests shared by the authenticators (no Asio, no allocation surprises).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/base64url.hpp"
#include "core/hex.hpp"

namespace bastion::guard::auth {

// base64url as JOSE uses it: the project's one strict codec.
using core::base64url_decode;
using core::base64url_encode;

// Lower-case hex out; lower- or upper-case in, odd lengths and other characters rejected.
using core::hex_decode;
using core::hex_encode;

// SHA-256 of the bytes (32 raw bytes).
std::array<std::uint8_t, 32> sha256(std::string_view bytes);

// `count` bytes from the OpenSSL CSPRNG (RAND_bytes); std::nullopt when it fails.
std::optional<std::string> random_bytes(std::size_t count);

}  // namespace bastion::guard::auth
