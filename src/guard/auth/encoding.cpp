#include "guard/auth/encoding.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

namespace bastion::guard::auth {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string hex_encode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::optional<std::string> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = hex_value(text[i]);
    const int lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += char((hi << 4) | lo);
  }
  return out;
}

namespace {

// EVP_Digest with EVP_sha256() looks the algorithm up in the provider store and allocates a
// context on every call (every bearer token check): fetch once, keep one context per thread.
struct Sha256 {
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  ~Sha256() { EVP_MD_free(md); }
};
struct DigestContext {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~DigestContext() { EVP_MD_CTX_free(ctx); }
};

}  // namespace

std::array<std::uint8_t, 32> sha256(std::string_view bytes) {
  static const Sha256 sha;
  static thread_local DigestContext context;
  std::array<std::uint8_t, 32> out{};
  unsigned int len = 0;
  if (sha.md && context.ctx && EVP_DigestInit_ex2(context.ctx, sha.md, nullptr) == 1 &&
      EVP_DigestUpdate(context.ctx, bytes.data(), bytes.size()) == 1 &&
      EVP_DigestFinal_ex(context.ctx, out.data(), &len) == 1) {
    return out;
  }
  out.fill(0);  // as before on OpenSSL misconfiguration: fall back to the one-shot form
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
