#include "record/uuid.hpp"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace bastion::record {
namespace {

TEST(UuidV7, FormatVersionVariantAndTimestamp) {
  UuidV7Generator gen;
  const std::int64_t ms = 1'795'887'107'123;  // 2026-11-28T17:31:47.123Z
  auto id = gen.next_at(ms);
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '7');
  EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') << id;
  for (char c : id) EXPECT_TRUE(c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << id;
  EXPECT_EQ(uuid_v7_unix_ms(id), ms);
}

TEST(UuidV7, MonotonicWithinAMillisecondAndAcrossClockSteps) {
  UuidV7Generator gen;
  std::string prev = gen.next_at(1000);
  for (int i = 0; i < 10'000; ++i) {
    auto id = gen.next_at(1000);  // same millisecond
    ASSERT_GT(id, prev);
    prev = id;
  }
  auto back = gen.next_at(900);  // clock stepped back: still ordered
  EXPECT_GT(back, prev);
  EXPECT_EQ(uuid_v7_unix_ms(back), 1000);
  auto later = gen.next_at(2000);
  EXPECT_GT(later, back);
  EXPECT_EQ(uuid_v7_unix_ms(later), 2000);
}

TEST(UuidV7, UniqueAcrossThreads) {
  UuidV7Generator gen;
  std::vector<std::vector<std::string>> per(4);
  std::vector<std::thread> threads;
  for (auto& v : per) {
    threads.emplace_back([&gen, &v] {
      for (int i = 0; i < 5000; ++i) v.push_back(gen.next());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& v : per) {
    for (std::size_t i = 1; i < v.size(); ++i) ASSERT_GT(v[i], v[i - 1]);  // ordered per thread
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), 20'000u);
}

TEST(UuidV7, ParseRejectsOtherVersions) {
  EXPECT_FALSE(uuid_v7_unix_ms("123e4567-e89b-42d3-a456-426614174000"));  // v4
  EXPECT_FALSE(uuid_v7_unix_ms("not-a-uuid"));
  EXPECT_TRUE(uuid_v7_unix_ms(make_uuid_v7()));
}

}  // namespace
}  // namespace bastion::record
