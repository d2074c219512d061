// Text encodings the agent needs: hex for digests, base64 for blobs, base64url for requestState.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace bastion::demo {

std::string to_hex(std::span<const std::uint8_t> bytes);

std::string base64_encode(std::string_view bytes);

// URL-safe alphabet without padding, so the text survives any transport unescaped.
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace bastion::demo
