#include "guard/auth/encoding.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/sha256.hpp"

namespace bastion::guard::auth {
std::array<std::uint8_t, 32> sha256(std::string_view bytes) {
  if (auto digest = core::sha256(bytes)) return *digest;
  // As before on OpenSSL misconfiguration: fall back to the one-shot form.
  std::array<std::uint8_t, 32> out{};
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

std::optional<std::string> random_bytes(std::size_t count) {
  std::string out(count, '\0');
  if (count > 0 &&
      RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(count)) != 1) {
    return std::nullopt;
  }
  return out;
}

}  // namespace bastion::guard::auth
