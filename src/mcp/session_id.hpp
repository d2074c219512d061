#pragma once
// Session ids: 16 random bytes plus a truncated HMAC-SHA256 under a per-process key, base64url.
// Forged or foreign ids are refused by the MAC before any lookup; ids are visible ASCII as the
// Streamable HTTP transport requires.
#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace bastion::mcp {

class SessionIdCodec {
 public:
  SessionIdCodec();                                        // random key from OpenSSL's CSPRNG
  explicit SessionIdCodec(std::array<unsigned char, 32> key);
  std::string mint() const;
  bool verify(std::string_view id) const;
  static constexpr std::size_t encoded_length = 32;        // base64url of 24 bytes

 private:
  std::array<unsigned char, 32> key_{};
};

}  // namespace bastion::mcp
