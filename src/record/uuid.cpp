#include "record/uuid.hpp"

#include <openssl/rand.h>

#include <array>
#include <chrono>
#include <random>

#include "core/hex.hpp"

namespace bastion::record {
namespace {

constexpr std::uint64_t kCounterBits = 42;
constexpr std::uint64_t kCounterMax = (std::uint64_t{1} << kCounterBits) - 1;

void random_bytes(unsigned char* out, int n) {
  if (RAND_bytes(out, n) == 1) return;
  // RAND_bytes only fails when the OpenSSL DRBG cannot seed; uniqueness still needs randomness.
  static thread_local std::random_device rd;
  for (int i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(rd());
}

// One RAND_bytes call per 32-64 ids instead of one or two per id: each call costs about as much as
// the rest of the id (provider lookup and locking in OpenSSL 3). Per thread, so lock-free.
std::uint64_t random_u64() {
  struct Pool {
    std::array<unsigned char, 512> bytes{};
    std::size_t used = 512;
  };
  static thread_local Pool pool;
  if (pool.used + 8 > pool.bytes.size()) {
    random_bytes(pool.bytes.data(), static_cast<int>(pool.bytes.size()));
    pool.used = 0;
  }
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | pool.bytes[pool.used + i];
  pool.used += 8;
  return v;
}

}  // namespace

std::string UuidV7Generator::next() {
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return next_at(now.count());
}

std::string UuidV7Generator::next_at(std::int64_t unix_ms) {
  std::uint64_t ms = 0, counter = 0;
  {
    std::lock_guard lock(mutex_);
    if (unix_ms > last_ms_) {
      last_ms_ = unix_ms;
      counter_ = random_u64() & (kCounterMax >> 1);  // top bit clear: room to count up
    } else if (counter_ < kCounterMax) {
      ++counter_;  // same (or earlier) millisecond: keep order by counting
    } else {
      ++last_ms_;  // counter exhausted: borrow the next millisecond
      counter_ = random_u64() & (kCounterMax >> 1);
    }
    ms = static_cast<std::uint64_t>(last_ms_) & 0xFFFFFFFFFFFFull;
    counter = counter_;
  }
  const std::uint64_t rand_low = random_u64() & 0xFFFFFFFFull;
  const std::uint64_t rand_a = counter >> 30;                                 // 12 bits
  const std::uint64_t rand_b = ((counter & 0x3FFFFFFFull) << 32) | rand_low;  // 62 bits
  const std::uint64_t hi = (ms << 16) | (std::uint64_t{7} << 12) | rand_a;
  const std::uint64_t lo = (std::uint64_t{2} << 62) | rand_b;

  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  auto put = [&](std::uint64_t v, int nibbles) {
    for (int i = nibbles - 1; i >= 0; --i) out.push_back(hex[(v >> (i * 4)) & 0xF]);
  };
  put(hi >> 32, 8);
  out.push_back('-');
  put((hi >> 16) & 0xFFFF, 4);
  out.push_back('-');
  put(hi & 0xFFFF, 4);
  out.push_back('-');
  put(lo >> 48, 4);
  out.push_back('-');
  put(lo & 0xFFFFFFFFFFFFull, 12);
  return out;
}

std::string make_uuid_v7() {
  static UuidV7Generator generator;
  return generator.next();
}

std::optional<std::int64_t> uuid_v7_unix_ms(std::string_view text) {
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
      text[23] != '-') {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    if (core::hex_digit(text[i]) < 0) return std::nullopt;
  }
  if (text[14] != '7') return std::nullopt;
  if (int v = core::hex_digit(text[19]); (v & 0xC) != 0x8) return std::nullopt;
  std::int64_t ms = 0;
  for (std::size_t i = 0; i < 13; ++i) {
    if (i == 8) continue;
    ms = (ms << 4) | core::hex_digit(text[i]);
  }
  return ms;
}

}  // namespace bastion::record
