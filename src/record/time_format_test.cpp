#include "record/time_format.hpp"

#include <gtest/gtest.h>

#include "record/store_url.hpp"

namespace bastion::record {
namespace {
using namespace std::chrono;

TEST(TimeFormat, FormatsMillisecondsUtc) {
  Clock::time_point t{seconds{1'795'887'107} + microseconds{123'999}};
  EXPECT_EQ(format_timestamp(t), "2026-11-28T17:31:47.123Z");
  EXPECT_EQ(format_timestamp(Clock::time_point{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_timestamp(Clock::time_point{milliseconds{-1}}), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(floor_millis(t), Clock::time_point{milliseconds{1'795'887'107'123}});
}

TEST(TimeFormat, RoundTripsAndSortsAsText) {
  auto a = floor_millis(Clock::now());
  auto text = format_timestamp(a);
  EXPECT_EQ(parse_timestamp(text), a);
  EXPECT_LT(format_timestamp(a), format_timestamp(a + milliseconds{1}));
  EXPECT_LT(format_timestamp(a + milliseconds{999}), format_timestamp(a + seconds{1}));
}

TEST(TimeFormat, ParsesVariants) {
  const Clock::time_point base{milliseconds{1'795'887'107'000}};
  EXPECT_EQ(parse_timestamp("2026-11-28T17:31:47Z"), base);
  EXPECT_EQ(parse_timestamp("2026-11-28t17:31:47.5z"), base + milliseconds{500});
  EXPECT_EQ(parse_timestamp("2026-11-28 17:31:47.123456789Z"), base + milliseconds{123});
  EXPECT_EQ(parse_timestamp("2026-11-28T18:31:47+01:00"), base);
  EXPECT_EQ(parse_timestamp("2026-11-28T16:01:47-01:30"), base);
  EXPECT_EQ(parse_timestamp("2026-11-28"), Clock::time_point{seconds{1'795'824'000}});
}

TEST(TimeFormat, RejectsGarbage) {
  for (auto s : {"", "2026-11-28T17:31:47", "2026-02-30T00:00:00Z", "2026-11-28T24:00:00Z",
                 "2026-11-28T17:31:47.Z", "2026-11-28T17:31:47Z trailing", "26-11-28",
                 "2026-11-28T17:31Z", "2026-11-28T17:31:47+0100"}) {
    EXPECT_FALSE(parse_timestamp(s)) << s;
  }
}

TEST(StoreUrl, Kinds) {
  auto rel = parse_store_url("sqlite://./bastion-data/interactions.db");
  ASSERT_TRUE(rel);
  EXPECT_EQ(rel->kind, StoreKind::sqlite);
  EXPECT_EQ(rel->path, "./bastion-data/interactions.db");
  EXPECT_EQ(parse_store_url("sqlite:///var/lib/bastion/i.db")->path, "/var/lib/bastion/i.db");
  EXPECT_EQ(parse_store_url("sqlite://data/i.db")->path, "data/i.db");
  EXPECT_EQ(parse_store_url("sqlite://:memory:")->path, ":memory:");
  auto pg = parse_store_url("postgres://bastion@127.0.0.1:5432/bastion");
  ASSERT_TRUE(pg);
  EXPECT_EQ(pg->kind, StoreKind::postgres);
  EXPECT_EQ(pg->url, "postgres://bastion@127.0.0.1:5432/bastion");
  EXPECT_EQ(parse_store_url("postgresql://h/db")->kind, StoreKind::postgres);
  EXPECT_EQ(parse_store_url("PostgreSQL://h/db")->kind, StoreKind::postgres);
  for (auto bad : {"", "sqlite://", "sqlite:", "mysql://h/db", "sqlite://./x.db?mode=ro",
                   "/tmp/x.db", "sqlite://./dir/"}) {
    EXPECT_FALSE(parse_store_url(bad)) << bad;
  }
}

}  // namespace
}  // namespace bastion::record
