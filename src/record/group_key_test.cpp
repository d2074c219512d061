#include "record/group_key.hpp"

#include <gtest/gtest.h>

#include <string>

namespace bastion::record {
namespace {

TEST(GroupKey, PartsNeverRunTogether) {
  EXPECT_NE(group_key({"ab", "c"}), group_key({"a", "bc"}));
  EXPECT_NE(group_key({"a", ""}), group_key({"a"}));
  EXPECT_EQ(group_key({"a", "b"}), std::string("a\0b\0", 4));
}

TEST(GroupKey, ProbeFindsWhatGroupKeyStored) {
  GroupTable<int> table;
  table.emplace(group_key({"demo", "t", "echo"}), 1);
  GroupKeyProbe probe;
  auto it = table.find(probe({"demo", "t", "echo"}));
  ASSERT_NE(it, table.end());
  EXPECT_EQ(it->second, 1);
  // The buffer is reused: a shorter key after a longer one is not left with a stale tail.
  EXPECT_EQ(table.find(probe({"demo"})), table.end());
  EXPECT_EQ(probe({"x"}), std::string_view("x\0", 2));
}

}  // namespace
}  // namespace bastion::record
