#include "mcp/session_id.hpp"

#include <gtest/gtest.h>

#include <set>

using bastion::mcp::SessionIdCodec;

TEST(SessionId, MintedIdsVerifyAndAreVisibleAscii) {
  SessionIdCodec codec;
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = codec.mint();
    EXPECT_EQ(id.size(), SessionIdCodec::encoded_length);
    for (char c : id) EXPECT_TRUE(c >= 0x21 && c <= 0x7e);
    EXPECT_TRUE(codec.verify(id));
    EXPECT_TRUE(seen.insert(id).second) << "duplicate id";
  }
}

TEST(SessionId, ForgedAndForeignIdsFail) {
  SessionIdCodec a, b;
  auto id = a.mint();
  EXPECT_FALSE(b.verify(id)) << "another process key must not accept it";
  auto tampered = id;
  tampered[3] = tampered[3] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(a.verify(tampered));
  EXPECT_FALSE(a.verify(""));
  EXPECT_FALSE(a.verify(id.substr(1)));
  EXPECT_FALSE(a.verify(std::string(32, '!')));
}
