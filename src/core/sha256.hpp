#pragma once
// SHA-256 through OpenSSL EVP, shared by the bearer-token checks and the record's canonical
// hashes. The algorithm is fetched once and each thread keeps one digest context: EVP_Digest
// with EVP_sha256() looks the algorithm up in the provider store and allocates a context on every
// call, which costs more than hashing a token or a small document.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bastion::core {

using Sha256Digest = std::array<std::uint8_t, 32>;

// The 32-byte digest; nullopt only when OpenSSL cannot provide SHA-256 (a misconfigured provider).
std::optional<Sha256Digest> sha256(std::string_view bytes);

// Lower-case hex of sha256(bytes); "" when that fails (an empty hash never matches a real one).
std::string sha256_hex(std::string_view bytes);

}  // namespace bastion::core
