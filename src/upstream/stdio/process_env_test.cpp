#include "upstream/stdio/process_env.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace bastion::upstream::stdio {
namespace {

EnvLookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(BuildChildEnv, KeepsOnlyConfiguredPlusPathHomeLang) {
  auto env = build_child_env({{"API_MODE", "test"}}, fake_env({{"PATH", "/usr/bin"},
                                                               {"HOME", "/root"},
                                                               {"LANG", "C.UTF-8"},
                                                               {"BASTION_ADMIN_TOKEN", "secret"},
                                                               {"AWS_SECRET_ACCESS_KEY", "secret"},
                                                               {"LD_PRELOAD", "/evil.so"}}));
  ASSERT_TRUE(env);
  EXPECT_EQ(
      *env,
      (std::map<std::string, std::string>{
          {"API_MODE", "test"}, {"HOME", "/root"}, {"LANG", "C.UTF-8"}, {"PATH", "/usr/bin"}}));
}

TEST(BuildChildEnv, ConfiguredValuesWinAndPathDefaults) {
  auto env = build_child_env({{"PATH", "/opt/agent/bin"}, {"HOME", "/srv"}}, fake_env({}));
  ASSERT_TRUE(env);
  EXPECT_EQ(env->at("PATH"), "/opt/agent/bin");
  EXPECT_EQ(env->at("HOME"), "/srv");
  EXPECT_FALSE(env->contains("LANG"));

  auto bare = build_child_env({}, fake_env({}));
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->at("PATH"), kDefaultPath);
}

TEST(BuildChildEnv, RejectsBadNamesAndValues) {
  for (const auto& [k, v] :
       std::vector<std::pair<std::string, std::string>>{{"", "x"},
                                                        {"A=B", "x"},
                                                        {std::string("A\0B", 3), "x"},
                                                        {"OK", std::string("a\0b", 3)}}) {
    auto env = build_child_env({{k, v}}, fake_env({}));
    ASSERT_FALSE(env);
    EXPECT_EQ(env.error(), boost::system::errc::invalid_argument);
  }
}

TEST(BuildChildEnv, EnvpStrings) {
  EXPECT_EQ(to_envp_strings({{"A", "1"}, {"B", "x=y"}}),
            (std::vector<std::string>{"A=1", "B=x=y"}));
}

class ResolveCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bastion_resolve_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directories(dir_ / "a");
    std::filesystem::create_directories(dir_ / "b");
    write(dir_ / "a" / "tool", 0644);  // not executable
    write(dir_ / "b" / "tool", 0755);
    write(dir_ / "a" / "only_plain", 0644);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  static void write(const std::filesystem::path& p, mode_t mode) {
    std::ofstream(p) << "#!/bin/sh\n";
    ::chmod(p.c_str(), mode);
  }
  std::filesystem::path dir_;
};

TEST_F(ResolveCommand, SearchesPathInOrderSkippingNonExecutables) {
  const std::string path = (dir_ / "a").string() + ":" + (dir_ / "b").string();
  auto r = resolve_command("tool", path);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, dir_ / "b" / "tool");
}

TEST_F(ResolveCommand, MissingIsEnoent) {
  auto r = resolve_command("bastion-no-such-command", (dir_ / "a").string());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), boost::system::errc::no_such_file_or_directory);
  auto abs = resolve_command("/nonexistent/bin/x", "/usr/bin");
  ASSERT_FALSE(abs);
  EXPECT_EQ(abs.error(), boost::system::errc::no_such_file_or_directory);
}

TEST_F(ResolveCommand, OnlyNonExecutableMatchIsEacces) {
  // Holds for root too: access(X_OK) needs at least one x bit, which 0644 lacks.
  auto r = resolve_command("only_plain", (dir_ / "a").string());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), boost::system::errc::permission_denied);
}

TEST_F(ResolveCommand, DirectoryIsNotACommand) {
  auto r = resolve_command("b", dir_.string());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), boost::system::errc::permission_denied);
}

TEST_F(ResolveCommand, SlashMeansNoSearchAndRelativeToWorkingDir) {
  auto r = resolve_command("b/tool", "/usr/bin", dir_);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, dir_ / "b" / "tool");
  auto abs = resolve_command("/bin/sh", "");
  ASSERT_TRUE(abs);
  EXPECT_EQ(*abs, "/bin/sh");
}

TEST_F(ResolveCommand, EmptyOrNulCommandIsInvalid) {
  EXPECT_EQ(resolve_command("", "/usr/bin").error(), boost::system::errc::invalid_argument);
  EXPECT_EQ(resolve_command(std::string_view("a\0b", 3), "/usr/bin").error(),
            boost::system::errc::invalid_argument);
}

}  // namespace
}  // namespace bastion::upstream::stdio
