#include "mcp/server/federation.hpp"

#include <gtest/gtest.h>

using namespace bastion;

namespace {
core::UpstreamConfig upstream(std::string name) {
  core::UpstreamConfig u;
  u.name = std::move(name);
  u.command = "x";
  return u;
}
}  // namespace

TEST(Federation, PrefixesOnlyWithSeveralUpstreams) {
  mcp::Federation one({}, {upstream("demo")});
  EXPECT_FALSE(one.prefixed());
  EXPECT_EQ(one.expose("demo", "echo", true), "echo");
  auto t = one.resolve("echo", true);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->upstream, "demo");

  mcp::Federation two({}, {upstream("a"), upstream("b")});
  EXPECT_TRUE(two.prefixed());
  EXPECT_EQ(two.expose("b", "echo", true), "b__echo");
  t = two.resolve("b__echo", true);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->upstream, "b");
  EXPECT_EQ(t->name, "echo");
  EXPECT_FALSE(two.resolve("c__echo", true));
  EXPECT_FALSE(two.resolve("echo", true));
}

TEST(Federation, FiltersApplyToListsAndCalls) {
  auto a = upstream("a");
  a.tools.exclude = {"danger"};
  a.tools.rename = {{"old", "new"}};
  mcp::Federation f({"__", core::FederationConfig::Prefix::always}, {a});
  EXPECT_FALSE(f.expose("a", "danger", true));
  EXPECT_FALSE(f.resolve("a__danger", true)) << "an excluded tool must not be callable";
  EXPECT_EQ(f.expose("a", "old", true), "a__new");
  auto t = f.resolve("a__new", true);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->name, "old");
  EXPECT_FALSE(f.resolve("a__old", true)) << "the pre-rename name is hidden";

  boost::json::array items{boost::json::object{{"name", "old"}}, boost::json::object{{"name", "danger"}},
                           boost::json::object{{"name", "fine"}}};
  auto listed = f.expose_list("a", items, true);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].at("name"), "a__new");
  EXPECT_EQ(listed[1].at("name"), "a__fine");
}

TEST(Federation, IncludeList) {
  auto a = upstream("a");
  a.tools.include = {"only"};
  mcp::Federation f({}, {a});
  EXPECT_TRUE(f.expose("a", "only", true));
  EXPECT_FALSE(f.expose("a", "other", true));
  EXPECT_FALSE(f.resolve("other", true));
}
