#include "core/error_shape.hpp"

#include <gtest/gtest.h>

#include <string>

namespace bastion::core {
namespace {

TEST(NormalizeErrorMessage, NumbersCollapseSoTimeoutsGroup) {
  EXPECT_EQ(normalize_error_message("Timeout after 5000 ms"), "timeout after # ms");
  EXPECT_EQ(normalize_error_message("timeout after 3000 ms"), "timeout after # ms");
  EXPECT_EQ(normalize_error_message("HTTP 502 on attempt 3/5"), "http # on attempt #/#");
}

TEST(NormalizeErrorMessage, IdsAndQuotedStrings) {
  EXPECT_EQ(normalize_error_message("request 3f2a9c1e-1b2c-4d5e-8f90-123456789abc failed"),
            "request <id> failed");
  EXPECT_EQ(normalize_error_message("hash deadbeef00112233 unknown"), "hash <id> unknown");
  EXPECT_EQ(normalize_error_message("Upstream 'api' said \"no \\\"way\\\"\" (`x`)"),
            "upstream <str> said <str> (<str>)");
  // An apostrophe inside a word is not a quote; an unterminated quote stays text.
  EXPECT_EQ(normalize_error_message("can't reach host"), "can't reach host");
  EXPECT_EQ(normalize_error_message("bad \"value"), "bad \"value");
  // Words made of hex letters only stay words; short hex with digits stays (digits become #).
  EXPECT_EQ(normalize_error_message("decade facade"), "decade facade");
  EXPECT_EQ(normalize_error_message("code e42"), "code e#");
  EXPECT_EQ(normalize_error_message("token req_01HX9ZK3M4N5P6Q7R8 expired"), "token <id> expired");
}

TEST(NormalizeErrorMessage, WhitespaceAndLength) {
  EXPECT_EQ(normalize_error_message("  a \n\t b  "), "a b");
  EXPECT_EQ(normalize_error_message(""), "");
  std::string long_text(500, 'x');
  EXPECT_EQ(normalize_error_message(long_text).size(), 200u);
  // A multi-byte character straddling byte 200 is dropped whole, never split.
  std::string utf8 = std::string(199, 'a') + "\xC3\xA9" + "tail";
  std::string n = normalize_error_message(utf8);
  EXPECT_EQ(n, std::string(199, 'a'));
}

}  // namespace
}  // namespace bastion::core
