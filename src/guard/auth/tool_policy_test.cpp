#include "guard/auth/tool_policy.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace bastion::guard::auth {
namespace {

TEST(ToolPolicy, GlobMatching) {
  EXPECT_TRUE(glob_match("demo__echo", "demo__echo"));
  EXPECT_FALSE(glob_match("demo__echo", "demo__echo2"));
  EXPECT_FALSE(glob_match("demo__echo", "demo__ech"));
  EXPECT_TRUE(glob_match("demo__*", "demo__echo"));
  EXPECT_TRUE(glob_match("demo__*", "demo__"));
  EXPECT_FALSE(glob_match("demo__*", "demo_echo"));
  EXPECT_FALSE(glob_match("demo__*", "xdemo__echo"));
  EXPECT_TRUE(glob_match("*__read_*", "files__read_text"));
  EXPECT_FALSE(glob_match("*__read_*", "files__write_text"));
  EXPECT_TRUE(glob_match("*", "anything"));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYbZc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXXbYYbZ"));
  EXPECT_TRUE(glob_match("**", ""));
  EXPECT_FALSE(glob_match("", "x"));
  // Pathological input stays fast (no exponential backtracking).
  const std::string name(5000, 'a');
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*b", name));
}

TEST(ToolPolicy, Allowed) {
  Principal all{"a", {}, {}, "token"};
  EXPECT_TRUE(tool_allowed(all, "demo__echo"));
  Principal some{"b", {}, {"demo__*", "other__echo"}, "token"};
  EXPECT_TRUE(tool_allowed(some, "demo__slow"));
  EXPECT_TRUE(tool_allowed(some, "other__echo"));
  EXPECT_FALSE(tool_allowed(some, "other__fail"));
  EXPECT_FALSE(tool_allowed(some, ""));
  Principal none{"c", {}, {""}, "jwt"};  // the JWT verifier's "explicitly no tools"
  EXPECT_FALSE(tool_allowed(none, "demo__echo"));
}

TEST(ToolPolicy, FilterToolsList) {
  auto tools = boost::json::parse(R"([
    {"name":"demo__echo","inputSchema":{}},
    {"name":"demo__slow"},
    {"name":"other__fail"},
    {"nameless":true},
    {"name":42},
    "junk"
  ])").as_array();
  Principal p{"b", {}, {"demo__*"}, "token"};
  auto copy = tools;
  EXPECT_EQ(filter_tools_list(p, copy), 4u);
  ASSERT_EQ(copy.size(), 2u);
  EXPECT_EQ(copy[0].at("name"), "demo__echo");
  EXPECT_EQ(copy[1].at("name"), "demo__slow");
  EXPECT_EQ(boost::json::serialize(copy[0]), R"({"name":"demo__echo","inputSchema":{}})");

  Principal all{"a", {}, {}, "token"};
  copy = tools;
  EXPECT_EQ(filter_tools_list(all, copy), 3u);  // malformed entries go even for "all tools"
  EXPECT_EQ(copy.size(), 3u);
}

}  // namespace
}  // namespace bastion::guard::auth
