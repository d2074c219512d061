// SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104). The agent may only use Boost.JSON and the
// standard library, and it needs HMAC to integrity-protect MRTR requestState.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace bastion::demo {

using Digest = std::array<std::uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  Digest finish();

 private:
  void compress(const std::uint8_t* block);

  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
};

Digest sha256(std::string_view data);
Digest hmac_sha256(std::string_view key, std::string_view message);

// Comparison whose duration does not depend on where the inputs differ.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace bastion::demo
