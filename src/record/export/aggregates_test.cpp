#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <random>

#include "record/export/dataset_export.hpp"
#include "record/export/json_lines.hpp"

namespace bastion::record {
namespace {

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
