#include "record/postgres/postgres_wire.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>

namespace bastion::record::pg {
namespace {

using std::chrono::milliseconds;

Clock::time_point at_unix_ms(std::int64_t ms) { return Clock::time_point{milliseconds{ms}}; }

TEST(PostgresWire, TimestampsMapToMicrosecondsSince2000) {
  EXPECT_EQ(to_pg_micros(at_unix_ms(946'684'800'000)), 0);
  EXPECT_EQ(to_pg_micros(at_unix_ms(0)), -kPgEpochUnixMicros);
  EXPECT_EQ(to_pg_micros(at_unix_ms(946'684'800'001)), 1000);
  EXPECT_EQ(to_pg_micros(at_unix_ms(-1)), -kPgEpochUnixMicros - 1000);
}

TEST(PostgresWire, TimestampsRoundTripAtMillisecondPrecision) {
  for (std::int64_t ms : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{946'684'799'999},
                          std::int64_t{1'709'210'096'789}, std::int64_t{7'258'118'400'000},
                          std::int64_t{-2'208'988'800'000}}) {
    EXPECT_EQ(from_pg_micros(to_pg_micros(at_unix_ms(ms))), at_unix_ms(ms)) << ms;
  }
}

TEST(PostgresWire, SubMillisecondPartsAreFlooredAway) {
  const auto time = at_unix_ms(1'000) + std::chrono::microseconds{999};
  EXPECT_EQ(from_pg_micros(to_pg_micros(time)), at_unix_ms(1'000));
  const auto before_epoch = at_unix_ms(0) - std::chrono::microseconds{1};
  EXPECT_EQ(from_pg_micros(to_pg_micros(before_epoch)), at_unix_ms(-1));
}

TEST(PostgresWire, OutOfRangeTimestampsClamp) {
  // 'infinity' and dates far beyond what Clock holds (year 2262 with nanoseconds) do not wrap.
  EXPECT_GT(from_pg_micros(std::numeric_limits<std::int64_t>::max()),
            at_unix_ms(9'000'000'000'000));
  EXPECT_LT(from_pg_micros(std::numeric_limits<std::int64_t>::min()),
            at_unix_ms(-9'000'000'000'000));
}

TEST(PostgresWire, FixedWidthValuesAreBigEndian) {
  std::string out;
  put_i64(out, 0x0102030405060708);
  EXPECT_EQ(out, std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_EQ(get_i64(out.data()), 0x0102030405060708);
  out.clear();
  put_i64(out, -2);
  EXPECT_EQ(get_i64(out.data()), -2);
  out.clear();
  put_i32(out, -1);
  put_i16(out, 24);
  EXPECT_EQ(out, std::string("\xff\xff\xff\xff\x00\x18", 6));
  for (double value :
       {0.0, -0.0, 1.0, 0.1, 1e308, -4.9e-324, std::numeric_limits<double>::infinity()}) {
    out.clear();
    put_f64(out, value);
    EXPECT_EQ(std::signbit(get_f64(out.data())), std::signbit(value));
    EXPECT_EQ(get_f64(out.data()), value);
  }
  out.clear();
  put_f64(out, 1.0);
  EXPECT_EQ(out, std::string("\x3f\xf0\x00\x00\x00\x00\x00\x00", 8));
}

TEST(PostgresWire, StorableTextIsValidUtf8WithoutNul) {
  EXPECT_TRUE(is_storable_text(""));
  EXPECT_TRUE(is_storable_text("plain ascii"));
  EXPECT_TRUE(is_storable_text("h\xc3\xa9llo \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80"));
  EXPECT_FALSE(is_storable_text(std::string("a\0b", 3)));
  EXPECT_FALSE(is_storable_text("\xff"));
  EXPECT_FALSE(is_storable_text("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_storable_text("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_storable_text("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_storable_text("\xe6\x97"));          // truncated
}

TEST(PostgresWire, UnstorableBytesBecomeReplacementCharacters) {
  EXPECT_EQ(to_storable_text(std::string("a\0b", 3)),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(to_storable_text("\xff\xe6\x97"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(to_storable_text("ok \xc3\xa9"), "ok \xc3\xa9");
  EXPECT_TRUE(is_storable_text(to_storable_text("\xf0\x9f\x9a")));
}

TEST(PostgresWire, CleanMessageScrubsTheSecretAndJoinsLines) {
  EXPECT_EQ(
      clean_message("connection failed: FATAL:  password s3cr3t wrong\nDETAIL: s3cr3t\n", "s3cr3t"),
      "connection failed: FATAL:  password [redacted] wrong; DETAIL: [redacted]");
  EXPECT_EQ(clean_message("no secret here\n", ""), "no secret here");
  EXPECT_EQ(clean_message("aaaa", "aa"), "[redacted][redacted]");
}

}  // namespace
}  // namespace bastion::record::pg
