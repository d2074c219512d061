#include "core/config.hpp"

#include <gtest/gtest.h>

using namespace bastion::core;

namespace {
std::string joined(const ConfigErrors& e) {
  std::string out;
  for (const auto& m : e.messages) out += m + "\n";
  return out;
}
}  // namespace

TEST(Config, EmptyDocumentGivesSafeDefaults) {
  auto r = load_config_text("", "t.yaml");
  ASSERT_TRUE(r.config) << joined(r.errors);
  EXPECT_EQ(r.config->listen.public_listener.address, "127.0.0.1:8080");
  ASSERT_TRUE(r.config->listen.admin);
  EXPECT_EQ(r.config->listen.admin->address, "127.0.0.1:8123");
  EXPECT_EQ(r.config->limits.max_body_bytes, 4u << 20);
  EXPECT_EQ(r.config->run_as, "nobody");
}

TEST(Config, ReadsUpstreams) {
  auto r = load_config_text(R"(
upstreams:
  demo: {command: bastion-demo-agent, args: [--x], env: {A: b}, replicas: 2, sessions: per-client, timeout: 5s}
  remote:
    url: http://127.0.0.1:9000/mcp
    tools: {exclude: [danger], rename: {old: new}}
)", "t.yaml");
  ASSERT_TRUE(r.config) << joined(r.errors);
  ASSERT_EQ(r.config->upstreams.size(), 2u);
  const auto* demo = r.config->find_upstream("demo");
  ASSERT_NE(demo, nullptr);
  EXPECT_EQ(demo->replicas, 2u);
  EXPECT_EQ(demo->sessions, UpstreamConfig::Sessions::per_client);
  EXPECT_EQ(demo->timeout, std::chrono::seconds(5));
  EXPECT_EQ(demo->env.at("A"), "b");
  const auto* remote = r.config->find_upstream("remote");
  ASSERT_NE(remote, nullptr);
  EXPECT_FALSE(remote->is_stdio());
  EXPECT_EQ(remote->tools.rename.at("old"), "new");
}

TEST(Config, UnknownKeysAndBadValuesReportFileAndLine) {
  auto r = load_config_text("listen:\n  public: {address: nowhere}\nlimits:\n  max_body_bytes: lots\n"
                            "bogus: 1\nupstreams:\n  x: {command: a, url: http://b}\n",
                            "bad.yaml");
  EXPECT_FALSE(r.config);
  auto all = joined(r.errors);
  EXPECT_NE(all.find("bad.yaml:2: listen.public.address: expected HOST:PORT"), std::string::npos) << all;
  EXPECT_NE(all.find("bad.yaml:4: limits.max_body_bytes"), std::string::npos) << all;
  EXPECT_NE(all.find("bad.yaml:5: unknown key 'bogus'"), std::string::npos) << all;
  EXPECT_NE(all.find("bad.yaml:7: upstreams.x: set exactly one of"), std::string::npos) << all;
}

TEST(Config, SyntaxErrorHasLine) {
  auto r = load_config_text("limits: [\n", "s.yaml");
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.errors.messages.size(), 1u);
  EXPECT_EQ(r.errors.messages[0].rfind("s.yaml:", 0), 0u);
}

TEST(Config, EnvValuesNeverAppearInErrors) {
  auto r = load_config_text("upstreams:\n  a:\n    command: x\n    env: {TOKEN: s3cr3t-value}\n    replicas: many\n",
                            "e.yaml");
  ASSERT_FALSE(r.config);
  EXPECT_EQ(joined(r.errors).find("s3cr3t-value"), std::string::npos);
}
