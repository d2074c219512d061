#include "record/canonical_json.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <boost/json.hpp>
#include <cstdint>

namespace bastion::record {
namespace {
namespace json = boost::json;

double from_bits(std::uint64_t bits) { return std::bit_cast<double>(bits); }

// RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text.
TEST(CanonicalJson, RfcAppendixBNumbers) {
  struct Case {
    std::uint64_t bits;
    const char* text;
  };
  const Case cases[] = {
      {0x0000000000000000, "0"},
      {0x8000000000000000, "0"},
      {0x0000000000000001, "5e-324"},
      {0x8000000000000001, "-5e-324"},
      {0x7fefffffffffffff, "1.7976931348623157e+308"},
      {0xffefffffffffffff, "-1.7976931348623157e+308"},
      {0x4340000000000000, "9007199254740992"},
      {0xc340000000000000, "-9007199254740992"},
      {0x4430000000000000, "295147905179352830000"},
      {0x44b52d02c7e14af5, "9.999999999999997e+22"},
      {0x44b52d02c7e14af6, "1e+23"},
      {0x44b52d02c7e14af7, "1.0000000000000001e+23"},
      {0x444b1ae4d6e2ef4e, "999999999999999700000"},
      {0x444b1ae4d6e2ef4f, "999999999999999900000"},
      {0x444b1ae4d6e2ef50, "1e+21"},
      {0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
      {0x3eb0c6f7a0b5ed8d, "0.000001"},
      {0x41b3de4355555553, "333333333.3333332"},
      {0x41b3de4355555554, "333333333.33333325"},
      {0x41b3de4355555555, "333333333.3333333"},
      {0x41b3de4355555556, "333333333.3333334"},
      {0x41b3de4355555557, "333333333.33333343"},
      {0xbecbf647612f3696, "-0.0000033333333333333333"},
      {0x43143ff3c1cb0959, "1424953923781206.2"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(es_number(from_bits(c.bits)), c.text) << std::hex << c.bits;
    EXPECT_EQ(canonical_json(json::value(from_bits(c.bits))), c.text) << std::hex << c.bits;
  }
}

TEST(CanonicalJson, SmallNumbersAndExponentBoundaries) {
  EXPECT_EQ(es_number(1e-7), "1e-7");
  EXPECT_EQ(es_number(1e21), "1e+21");
  EXPECT_EQ(es_number(1e20), "100000000000000000000");
  EXPECT_EQ(es_number(4.5), "4.5");
  EXPECT_EQ(es_number(-0.5), "-0.5");
  EXPECT_EQ(es_number(123e-20), "1.23e-18");
  EXPECT_EQ(canonical_json(json::value(-0.0)), "0");
  EXPECT_EQ(canonical_json(json::parse("[1.0, 2, -3, 1E2]")), "[1,2,-3,100]");
}

TEST(CanonicalJson, LargeIntegersBecomeDoubles) {
  EXPECT_EQ(canonical_json(json::value(std::int64_t{9007199254740992})), "9007199254740992");
  EXPECT_EQ(canonical_json(json::value(std::int64_t{-9007199254740992})), "-9007199254740992");
  EXPECT_EQ(canonical_json(json::value(std::uint64_t{9223372036854775808ull})),
            "9223372036854776000");
  EXPECT_EQ(canonical_json(json::value(std::int64_t{INT64_MIN})), "-9223372036854776000");
}

json::value precise(std::string_view text) {
  boost::system::error_code ec;
  auto v = parse_json_precise(text, ec);
  EXPECT_FALSE(ec) << ec.message();
  return v;
}

// RFC 8785 §3.2.2 / §3.2.3 worked example.
TEST(CanonicalJson, RfcMainExample) {
  auto v = precise(R"({
    "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  })");
  EXPECT_EQ(canonical_json(v),
            "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
            "\"string\":\"\xE2\x82\xAC$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

// RFC 8785 §3.2.3: sorting by UTF-16 code units puts U+1F600 (a surrogate pair D83D DE00) before
// U+FB33, unlike code-point or UTF-8 order.
TEST(CanonicalJson, RfcSortingExample) {
  auto v = precise(R"({
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\ud83d\ude00": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis"
  })");
  EXPECT_EQ(canonical_json(v),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xC2\x80\":\"Control\","
            "\"\xC3\xB6\":\"Latin Small Letter O With Diaeresis\",\"\xE2\x82\xAC\":\"Euro Sign\","
            "\"\xF0\x9F\x98\x80\":\"Emoji: Grinning Face\",\"\xEF\xAC\xB3\":\"Hebrew Letter Dalet "
            "With Dagesh\"}");
}

TEST(CanonicalJson, KeyOrderAndWhitespaceDoNotChangeTheHash) {
  auto a = json::parse(R"({"b": {"y": 1, "x": [1, 2.0, "z"]}, "a": null})");
  auto b = json::parse(R"({ "a":null,"b":{"x":[1,2,"z"],"y":1.0} })");
  EXPECT_EQ(canonical_json(a), R"({"a":null,"b":{"x":[1,2,"z"],"y":1}})");
  EXPECT_EQ(canonical_hash(a), canonical_hash(b));
  EXPECT_NE(canonical_hash(a),
            canonical_hash(json::parse(R"({"a":null,"b":{"x":[2,1,"z"],"y":1}})")));
}

TEST(CanonicalJson, ControlCharactersUseLowercaseHex) {
  json::value v = json::string(std::string("\x01\x1f\x7f/", 4));
  EXPECT_EQ(canonical_json(v), "\"\\u0001\\u001f\x7f/\"");
}

TEST(CanonicalJson, NonFiniteBuiltInMemoryPrintsNull) {
  json::array a{json::value(std::numeric_limits<double>::infinity())};
  EXPECT_EQ(canonical_json(a), "[null]");
}

TEST(CanonicalJson, PreciseParserMatchesBoostOtherwise) {
  const char* text =
      R"({"a":[1,-2,18446744073709551615,0.1,1e-7,"x\u00e9",true,null,{"b":{}}],"c":-0.0})";
  EXPECT_EQ(precise(text), json::parse(text));
  EXPECT_EQ(precise("333333333.33333329").as_double(), 333333333.3333333);
  boost::system::error_code ec;
  parse_json_precise("[1,2", ec);
  EXPECT_TRUE(ec);
  ec = {};
  parse_json_precise("{} x", ec);
  EXPECT_TRUE(ec);
  ec = {};
  parse_json_precise("[[[[1]]]]", ec, 3);
  EXPECT_TRUE(ec);
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(canonical_hash(json::parse("{\"b\":1,\"a\":2}")), sha256_hex("{\"a\":2,\"b\":1}"));
}

}  // namespace
}  // namespace bastion::record
