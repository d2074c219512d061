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

namespace {
using Catalog = mcp::MergedCatalogs::Catalog;
Catalog catalog(std::initializer_list<const char*> names) {
  boost::json::array items;
  for (const char* n : names) items.push_back(boost::json::object{{"name", n}, {"description", "d"}});
  return std::make_shared<const boost::json::array>(std::move(items));
}
std::vector<std::string> names_of(const boost::json::array& items) {
  std::vector<std::string> out;
  for (const auto& item : items) out.emplace_back(item.at("name").as_string());
  return out;
}
}  // namespace

TEST(MergedCatalogs, RebuiltOnlyWhenAnUpstreamListChanged) {
  auto a = upstream("a");
  a.tools.exclude = {"danger"};
  mcp::Federation f({}, {a, upstream("b")});
  mcp::MergedCatalogs merged;
  auto ca = catalog({"echo", "danger"});
  auto cb = catalog({"echo"});

  auto first = merged.merge(f, "tools", {ca, cb});
  EXPECT_EQ(names_of(*first), (std::vector<std::string>{"a__echo", "b__echo"}))
      << "prefixed, and the configuration's exclude applies to the cached list too";
  EXPECT_EQ(merged.merge(f, "tools", {ca, cb}), first) << "unchanged catalogs: the same merged list";

  // b said tools/list_changed: its catalog was replaced, so the merged list must be rebuilt.
  auto cb2 = catalog({"echo", "slow"});
  auto second = merged.merge(f, "tools", {ca, cb2});
  EXPECT_NE(second, first);
  EXPECT_EQ(names_of(*second), (std::vector<std::string>{"a__echo", "b__echo", "b__slow"}));
  EXPECT_EQ(names_of(*first), (std::vector<std::string>{"a__echo", "b__echo"})) << "a list handed out never changes";
  // A re-fetched catalog with the same content is a new catalog: rebuilt, never assumed equal.
  auto cb3 = catalog({"echo", "slow"});
  auto third = merged.merge(f, "tools", {ca, cb3});
  EXPECT_NE(third, second);
  EXPECT_EQ(names_of(*third), names_of(*second));

  // Kinds are separate entries: prompts are not served from the tools entry, nor renamed.
  auto prompts = merged.merge(f, "prompts", {ca, cb3});
  EXPECT_NE(prompts, third);
  EXPECT_EQ(names_of(*prompts), (std::vector<std::string>{"a__echo", "a__danger", "b__echo", "b__slow"}))
      << "the tool filter does not apply to prompts";
  EXPECT_EQ(merged.merge(f, "tools", {ca, cb3}), third);
}

TEST(MergedCatalogs, DegradedListIsNotKept) {
  mcp::Federation f({}, {upstream("a"), upstream("b")});
  mcp::MergedCatalogs merged;
  auto ca = catalog({"echo"});
  auto cb = catalog({"echo"});
  auto degraded = merged.merge(f, "tools", {ca, nullptr});
  EXPECT_EQ(names_of(*degraded), (std::vector<std::string>{"a__echo"}));
  auto again = merged.merge(f, "tools", {ca, nullptr});
  EXPECT_NE(again, degraded) << "a list missing an upstream is rebuilt each time, not cached";
  auto full = merged.merge(f, "tools", {ca, cb});
  EXPECT_EQ(names_of(*full), (std::vector<std::string>{"a__echo", "b__echo"}));
  EXPECT_EQ(merged.merge(f, "tools", {ca, cb}), full);
}
