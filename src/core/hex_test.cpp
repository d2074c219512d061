#include "core/hex.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace bastion::core;

TEST(Hex, EncodesLowerCaseAndRoundTrips) {
  const std::string bytes("\x00\x01\x7f\x80\xab\xff", 6);
  EXPECT_EQ(hex_encode(bytes), "00017f80abff");
  EXPECT_EQ(hex_encode(""), "");
  EXPECT_EQ(hex_decode(hex_encode(bytes)), bytes);
}

TEST(Hex, DecodesEitherCaseAndRejectsTheRest) {
  EXPECT_EQ(hex_decode("ABff"), std::string("\xab\xff", 2));
  EXPECT_EQ(hex_decode(""), std::string());
  EXPECT_FALSE(hex_decode("abc"));   // odd length
  EXPECT_FALSE(hex_decode("0g"));    // not a digit
  EXPECT_FALSE(hex_decode("-1"));
  EXPECT_EQ(hex_digit('7'), 7);
  EXPECT_EQ(hex_digit('F'), 15);
  EXPECT_EQ(hex_digit('x'), -1);
}
