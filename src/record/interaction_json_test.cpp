#include "record/interaction_json.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "record/test_records.hpp"

namespace bastion::record {
namespace {
namespace json = boost::json;

TEST(InteractionJson, RoundTripsEveryColumn) {
  for (int i = 0; i < 4; ++i) {
    auto r = testing::make_record(i);
    auto text = json::serialize(interaction_to_json(r));
    auto back = interaction_from_json(json::parse(text));
    ASSERT_TRUE(back) << text;
    EXPECT_EQ(*back, r) << text;
  }
}

TEST(InteractionJson, RejectsMissingOrMistypedColumns) {
  auto o = interaction_to_json(testing::make_record(0));
  auto missing = o;
  missing.erase("status");
  EXPECT_FALSE(interaction_from_json(missing));
  auto mistyped = o;
  mistyped["latency_ms"] = "fast";
  EXPECT_FALSE(interaction_from_json(mistyped));
  auto bad_time = o;
  bad_time["timestamp"] = "yesterday";
  EXPECT_FALSE(interaction_from_json(bad_time));
  EXPECT_FALSE(interaction_from_json(json::value(3)));
}

}  // namespace
}  // namespace bastion::record
