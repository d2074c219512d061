// Mcp-Session-Id values from the network: verification never crashes, and what the codec mints
// always verifies (a fuzzed id cannot: that would need an HMAC-SHA256 forgery).
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mcp/session_id.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bastion::mcp::SessionIdCodec codec(std::array<unsigned char, 32>{1, 2, 3});
  (void)codec.verify(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!codec.verify(codec.mint())) std::abort();
  return 0;
}
