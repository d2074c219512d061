#include "record/tagger.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace bastion::record {
namespace {
namespace json = boost::json;

TEST(Tagger, LatencyBucketsAreInclusiveUpperBounds) {
  TagConfig c;
  EXPECT_EQ(latency_bucket(0, false, c), "fast");
  EXPECT_EQ(latency_bucket(250, false, c), "fast");
  EXPECT_EQ(latency_bucket(250.5, false, c), "normal");
  EXPECT_EQ(latency_bucket(1000, false, c), "normal");
  EXPECT_EQ(latency_bucket(1001, false, c), "slow");
  EXPECT_EQ(latency_bucket(5000, false, c), "slow");
  EXPECT_EQ(latency_bucket(5000.1, false, c), "timeout");
  EXPECT_EQ(latency_bucket(3, true, c), "timeout");
  EXPECT_EQ(latency_bucket(std::nan(""), false, c), "timeout");
  c.fast = std::chrono::milliseconds(10);
  EXPECT_EQ(latency_bucket(11, false, c), "normal");
}

TEST(Tagger, TagLatencySetsBothColumns) {
  Interaction r;
  tag_latency(r, 1234.5, false, TagConfig{});
  EXPECT_EQ(r.latency_ms, 1234.5);
  EXPECT_EQ(r.latency_bucket, "slow");
  tag_latency(r, -5, false, TagConfig{});
  EXPECT_EQ(r.latency_ms, 0);
  EXPECT_EQ(r.latency_bucket, "fast");
}

TEST(Tagger, ScoreThresholds) {
  TagConfig c;
  EXPECT_EQ(contradiction_level_for_score(0, c), "none");
  EXPECT_EQ(contradiction_level_for_score(0.2499, c), "none");
  EXPECT_EQ(contradiction_level_for_score(0.25, c), "mild");
  EXPECT_EQ(contradiction_level_for_score(0.5, c), "moderate");
  EXPECT_EQ(contradiction_level_for_score(0.75, c), "extreme");
  EXPECT_EQ(contradiction_level_for_score(1, c), "extreme");
  EXPECT_FALSE(contradiction_level_for_score(1.01, c));
  EXPECT_FALSE(contradiction_level_for_score(-0.1, c));
  EXPECT_FALSE(contradiction_level_for_score(std::nan(""), c));
}

TEST(Tagger, ValidMetaFillsTags) {
  Interaction r;
  TagStats stats;
  auto meta =
      json::parse(R"({"bastion/quality": 0.9, "bastion/precision": 1, "bastion/confidence": 0,
                              "bastion/contradiction": "moderate", "other": "ignored"})")
          .as_object();
  tag_meta(r, meta, TagConfig{}, stats);
  EXPECT_EQ(r.output_quality, 0.9);
  EXPECT_EQ(r.precision_score, 1.0);
  EXPECT_EQ(r.agent_confidence, 0.0);
  EXPECT_EQ(r.contradiction_level, "moderate");
  EXPECT_TRUE(r.contradiction_applied);
  EXPECT_EQ(stats.invalid_quality + stats.invalid_precision + stats.invalid_confidence +
                stats.invalid_contradiction,
            0u);
}

TEST(Tagger, ContradictionForms) {
  TagStats stats;
  auto level = [&](const char* text) {
    Interaction r;
    tag_meta(r, json::parse(std::string(R"({"bastion/contradiction": )") + text + "}").as_object(),
             TagConfig{}, stats);
    return std::make_pair(r.contradiction_level, r.contradiction_applied);
  };
  EXPECT_EQ(level("true"), std::make_pair(std::string("mild"), true));
  EXPECT_EQ(level("false"), std::make_pair(std::string("none"), false));
  EXPECT_EQ(level("\"extreme\""), std::make_pair(std::string("extreme"), true));
  EXPECT_EQ(level("\"none\""), std::make_pair(std::string("none"), false));
  EXPECT_EQ(level("0.8"), std::make_pair(std::string("extreme"), true));
  EXPECT_EQ(level("0.1"), std::make_pair(std::string("none"), false));
  EXPECT_EQ(stats.invalid_contradiction.load(), 0u);
  EXPECT_EQ(level("\"EXTREME\""), std::make_pair(std::string("none"), false));
  EXPECT_EQ(level("2"), std::make_pair(std::string("none"), false));
  EXPECT_EQ(level("null"), std::make_pair(std::string("none"), false));
  EXPECT_EQ(level("[\"mild\"]"), std::make_pair(std::string("none"), false));
  EXPECT_EQ(stats.invalid_contradiction.load(), 4u);
}

TEST(Tagger, InvalidScoresAreIgnoredAndCounted) {
  Interaction r;
  TagStats stats;
  auto meta = json::parse(R"({"bastion/quality": 1.5, "bastion/precision": "0.5",
                              "bastion/confidence": true})")
                  .as_object();
  tag_meta(r, meta, TagConfig{}, stats);
  EXPECT_FALSE(r.output_quality);
  EXPECT_FALSE(r.precision_score);
  EXPECT_FALSE(r.agent_confidence);
  EXPECT_EQ(stats.invalid_quality.load(), 1u);
  EXPECT_EQ(stats.invalid_precision.load(), 1u);
  EXPECT_EQ(stats.invalid_confidence.load(), 1u);
  tag_meta(r, json::parse(R"({"bastion/quality": -0.01})").as_object(), TagConfig{}, stats);
  EXPECT_EQ(stats.invalid_quality.load(), 2u);
}

TEST(Tagger, TagResultFindsMeta) {
  Interaction r;
  TagStats stats;
  tag_result(r, json::parse(R"({"content": [], "_meta": {"bastion/quality": 0.5}})"), TagConfig{},
             stats);
  EXPECT_EQ(r.output_quality, 0.5);
  tag_result(r, json::parse(R"({"content": [], "_meta": 3})"), TagConfig{}, stats);
  EXPECT_EQ(stats.invalid_meta.load(), 1u);
  tag_result(r, json::parse(R"([1, 2])"), TagConfig{}, stats);
  tag_result(r, json::parse(R"({"content": []})"), TagConfig{}, stats);
  EXPECT_EQ(stats.invalid_meta.load(), 1u);
  EXPECT_EQ(r.output_quality, 0.5);
}

}  // namespace
}  // namespace bastion::record
