#pragma once
// base64url (RFC 4648 §5) without padding, as JOSE and ACME use it. Decoding is strict: padding,
// characters outside the URL alphabet, impossible lengths and non-canonical encodings (unused
// trailing bits set) are rejected, so one value has exactly one spelling.
#include <optional>
#include <string>
#include <string_view>

namespace bastion::core {

std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace bastion::core
