#include "core/sha256.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace bastion::core;

namespace {
// Hex of the raw digest, written here so the test does not lean on sha256_hex.
std::string hex(const Sha256Digest& d) {
  std::string out;
  for (std::uint8_t b : d) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}
}  // namespace

// FIPS 180-2, appendix B.1, and the digest of the empty message.
TEST(Sha256, FipsVectors) {
  const auto abc = sha256("abc");
  ASSERT_TRUE(abc);
  EXPECT_EQ(hex(*abc), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const auto empty = sha256("");
  ASSERT_TRUE(empty);
  EXPECT_EQ(hex(*empty), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // B.2: two blocks, so the per-thread context is really reset between calls.
  const auto two_blocks = sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
  ASSERT_TRUE(two_blocks);
  EXPECT_EQ(hex(*two_blocks), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, HexForm) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // Bytes beyond ASCII (and a NUL) are hashed as bytes.
  EXPECT_EQ(sha256_hex(std::string("a\0b", 3)).size(), 64u);
  EXPECT_NE(sha256_hex(std::string("a\0b", 3)), sha256_hex("a"));
}
