#include "core/sha256.hpp"

#include <openssl/evp.h>

#include "core/hex.hpp"

namespace bastion::core {
namespace {

struct FetchedSha256 {
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  ~FetchedSha256() { EVP_MD_free(md); }
};
struct DigestContext {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~DigestContext() { EVP_MD_CTX_free(ctx); }
};

}  // namespace

std::optional<Sha256Digest> sha256(std::string_view bytes) {
  static const FetchedSha256 sha;
  static thread_local DigestContext context;
  Sha256Digest out{};
  unsigned int len = 0;
  if (!sha.md || !context.ctx || EVP_DigestInit_ex2(context.ctx, sha.md, nullptr) != 1 ||
      EVP_DigestUpdate(context.ctx, bytes.data(), bytes.size()) != 1 ||
      EVP_DigestFinal_ex(context.ctx, out.data(), &len) != 1 || len != out.size()) {
    return std::nullopt;
  }
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  const auto digest = sha256(bytes);
  if (!digest) return {};
  return hex_encode({reinterpret_cast<const char*>(digest->data()), digest->size()});
}

}  // namespace bastion::core
