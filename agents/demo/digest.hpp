// SHA-256 and HMAC-SHA-256 through OpenSSL: the agent integrity-protects MRTR requestState.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace bastion::demo {

using Digest = std::array<std::uint8_t, 32>;

Digest sha256(std::string_view data);
Digest hmac_sha256(std::string_view key, std::string_view message);

// Comparison whose duration does not depend on where the inputs differ.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace bastion::demo
