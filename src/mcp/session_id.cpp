#include "mcp/session_id.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace bastion::mcp {
namespace {

constexpr std::size_t random_bytes = 16;
constexpr std::size_t mac_bytes = 8;
constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url(const unsigned char* data, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i + 2 < n; i += 3) {  // n is a multiple of 3 here (24 bytes)
    unsigned v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  return out;
}

std::optional<std::array<unsigned char, random_bytes + mac_bytes>> decode(std::string_view s) {
  if (s.size() != SessionIdCodec::encoded_length) return std::nullopt;
  std::array<unsigned char, random_bytes + mac_bytes> out{};
  std::size_t o = 0;
  for (std::size_t i = 0; i < s.size(); i += 4) {
    unsigned v = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      char c = s[i + j];
      int d = -1;
      if (c >= 'A' && c <= 'Z') d = c - 'A';
      else if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
      else if (c >= '0' && c <= '9') d = c - '0' + 52;
      else if (c == '-') d = 62;
      else if (c == '_') d = 63;
      if (d < 0) return std::nullopt;
      v = (v << 6) | static_cast<unsigned>(d);
    }
    out[o++] = static_cast<unsigned char>(v >> 16);
    out[o++] = static_cast<unsigned char>(v >> 8);
    out[o++] = static_cast<unsigned char>(v);
  }
  return out;
}

void mac(const std::array<unsigned char, 32>& key, const unsigned char* data, unsigned char* out) {
  unsigned char full[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data, random_bytes, full, &len);
  std::copy(full, full + mac_bytes, out);
}

}  // namespace

SessionIdCodec::SessionIdCodec() {
  if (RAND_bytes(key_.data(), static_cast<int>(key_.size())) != 1) {
    throw std::runtime_error("OpenSSL RAND_bytes failed");  // start-up only: no entropy, no service
  }
}

SessionIdCodec::SessionIdCodec(std::array<unsigned char, 32> key) : key_(key) {}

std::string SessionIdCodec::mint() const {
  std::array<unsigned char, random_bytes + mac_bytes> raw{};
  if (RAND_bytes(raw.data(), random_bytes) != 1) throw std::runtime_error("RAND_bytes failed");
  mac(key_, raw.data(), raw.data() + random_bytes);
  return base64url(raw.data(), raw.size());
}

bool SessionIdCodec::verify(std::string_view id) const {
  auto raw = decode(id);
  if (!raw) return false;
  unsigned char expected[mac_bytes];
  mac(key_, raw->data(), expected);
  return CRYPTO_memcmp(expected, raw->data() + random_bytes, mac_bytes) == 0;
}

}  // namespace bastion::mcp
