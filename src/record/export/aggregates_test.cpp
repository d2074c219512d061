#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <random>

#include "record/export/dataset_export.hpp"
#include "record/export/json_lines.hpp"

namespace bastion::record {
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

TEST(LatencyHistogram, EmptyAndExtremes) {
  LatencyHistogram h;
  EXPECT_EQ(h.percentile(0.5), 0);
  h.add(42);
  EXPECT_EQ(h.percentile(0.5), 42);
  EXPECT_EQ(h.percentile(0.99), 42);
  h.add(0);
  h.add(-3);  // counts as instant
  EXPECT_EQ(h.count(), 3u);
  EXPECT_EQ(h.percentile(0.01), 0);
  EXPECT_EQ(h.percentile(1.0), 42);
}

TEST(LatencyHistogram, PercentilesWithinOnePercent) {
  LatencyHistogram h;
  std::vector<double> values;
  std::mt19937 rng(7);
  std::lognormal_distribution<double> dist(5, 1.5);
  for (int i = 0; i < 100'000; ++i) {
    double v = dist(rng);
    values.push_back(v);
    h.add(v);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.5, 0.9, 0.95, 0.99, 0.999}) {
    auto rank = static_cast<std::size_t>(std::ceil(q * values.size()));
    double exact = values[rank - 1];
    EXPECT_NEAR(h.percentile(q), exact, exact * 0.0101) << "q=" << q;
  }
}

TEST(JsonLines, NumbersStringsAndOrder) {
  boost::json::object o;
  o["z"] = 0.9;
  o["a"] = 12.0;
  o["n"] = nullptr;
  o["i"] = -5;
  o["s"] = "tab\there \"q\" \x01 \xC3\xA9 bad:\xFF";
  EXPECT_EQ(to_json_text(o),
            "{\"z\":0.9,\"a\":12,\"n\":null,\"i\":-5,"
            "\"s\":\"tab\\there \\\"q\\\" \\u0001 \xC3\xA9 bad:\xEF\xBF\xBD\"}");
  // Round trip through a real parser.
  auto back = boost::json::parse(to_json_text(o));
  EXPECT_EQ(back.at("z").as_double(), 0.9);
}

}  // namespace
}  // namespace bastion::record
