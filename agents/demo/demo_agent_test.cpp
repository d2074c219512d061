// Integration tests: the real bastion-demo-agent binary over pipes, session era (2025-x),
// robustness, and the demo tools.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "demo/agent_process.hpp"

namespace bastion::demo::testing {
namespace {

json::object initialize_params(std::string_view version, json::object capabilities) {
  json::object params;
  params["protocolVersion"] = version;
  params["capabilities"] = std::move(capabilities);
  params["clientInfo"] = json::object{{"name", "gtest"}, {"version", "1.0.0"}};
  return params;
}

// Starts an agent and completes the initialize handshake.
void initialize(AgentProcess& agent, json::object capabilities = all_client_capabilities()) {
  auto response = agent.call("init", "initialize", initialize_params("2025-11-25", capabilities));
  ASSERT_TRUE(response.has_value());
  ASSERT_TRUE(response->contains("result")) << json::serialize(*response);
  agent.send(notification("notifications/initialized"));
}

json::object tool_call(std::string_view name, json::object arguments = {}) {
  json::object params;
  params["name"] = name;
  params["arguments"] = std::move(arguments);
  return params;
}

json::object result_of(const std::optional<json::object>& response) {
  if (!response || !response->contains("result") || !response->at("result").is_object()) {
    ADD_FAILURE() << "expected a result, got "
                  << (response ? json::serialize(*response) : std::string("nothing"));
    return {};
  }
  return response->at("result").as_object();
}

int error_code(const std::optional<json::object>& response) {
  if (!response || !response->contains("error")) {
    ADD_FAILURE() << "expected an error, got "
                  << (response ? json::serialize(*response) : std::string("nothing"));
    return 0;
  }
  return static_cast<int>(response->at("error").at("code").as_int64());
}

bool is_request_for(const json::object& m, std::string_view method) {
  return has_method(m, method) && m.contains("id");
}

class SessionEra : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(agent_.started()); }
  void TearDown() override { EXPECT_TRUE(agent_.bad_lines().empty()) << agent_.bad_lines()[0]; }
  AgentProcess agent_;
};

TEST_F(SessionEra, InitializeNegotiatesTheProtocolVersion) {
  auto known = agent_.call(1, "initialize", initialize_params("2025-03-26", {}));
  EXPECT_EQ(result_of(known).at("protocolVersion"), "2025-03-26");
  auto unknown = agent_.call(2, "initialize", initialize_params("1999-01-01", {}));
  const json::object result = result_of(unknown);
  EXPECT_EQ(result.at("protocolVersion"), "2025-11-25");
  EXPECT_EQ(result.at("serverInfo").at("name"), "bastion-demo-agent");
  const auto& caps = result.at("capabilities").as_object();
  EXPECT_EQ(caps.at("tools").at("listChanged"), true);
  EXPECT_EQ(caps.at("resources").at("subscribe"), true);
  EXPECT_TRUE(caps.contains("logging"));
  EXPECT_TRUE(caps.contains("completions"));
  EXPECT_EQ(error_code(agent_.call(3, "initialize", json::object{})), -32602);
  EXPECT_TRUE(result_of(agent_.call(4, "ping")).empty());
}

TEST_F(SessionEra, ListsEveryToolWithValidNamesAndSchemas) {
  initialize(agent_);
  const json::object result = result_of(agent_.call(1, "tools/list"));
  std::vector<std::string> names;
  for (const auto& tool : result.at("tools").as_array()) {
    const auto& t = tool.as_object();
    const std::string name(t.at("name").as_string());
    names.push_back(name);
    EXPECT_LE(name.size(), 64u);
    EXPECT_EQ(name.find_first_not_of(
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./-"),
              std::string::npos);
    EXPECT_FALSE(t.at("description").as_string().empty()) << name;
    EXPECT_EQ(t.at("inputSchema").at("type"), "object") << name;
  }
  for (const char* expected : {"echo",
                               "contradict",
                               "slow",
                               "fail",
                               "leak",
                               "test_simple_text",
                               "test_image_content",
                               "test_audio_content",
                               "test_embedded_resource",
                               "test_multiple_content_types",
                               "test_tool_with_logging",
                               "test_tool_with_progress",
                               "test_error_handling",
                               "test_sampling",
                               "test_elicitation",
                               "test_elicitation_sep1034_defaults",
                               "test_elicitation_sep1330_enums",
                               "json_schema_2020_12_tool",
                               "test_input_required_result_elicitation",
                               "test_missing_capability"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
  EXPECT_EQ(error_code(agent_.call(2, "tools/list", json::object{{"cursor", "x"}})), -32602);
}

TEST_F(SessionEra, EchoReturnsTheMessage) {
  initialize(agent_);
  auto result =
      result_of(agent_.call(1, "tools/call", tool_call("echo", {{"message", "héllo\nworld"}})));
  EXPECT_EQ(first_text(result), "héllo\nworld");
  auto bad = result_of(agent_.call(2, "tools/call", tool_call("echo", {{"message", 5}})));
  EXPECT_EQ(bad.at("isError"), true);
}

TEST_F(SessionEra, ContradictTagsAreDeterministicAndInRange) {
  initialize(agent_);
  const auto tags = [&](int id, json::object args) {
    auto result =
        result_of(agent_.call(id, "tools/call", tool_call("contradict", std::move(args))));
    EXPECT_FALSE(first_text(result).empty());
    return result.at("_meta").as_object();
  };
  const json::object first = tags(1, {{"claim", "water boils at 100 C at sea level"}});
  const json::object again = tags(2, {{"claim", "water boils at 100 C at sea level"}});
  EXPECT_EQ(first, again);
  for (const char* key : {"bastion/quality", "bastion/precision", "bastion/confidence"}) {
    const double v = first.at(key).to_number<double>();
    EXPECT_GE(v, 0.0) << key;
    EXPECT_LE(v, 1.0) << key;
  }
  const std::string level(first.at("bastion/contradiction").as_string());
  EXPECT_TRUE(level == "none" || level == "mild" || level == "moderate" || level == "extreme");

  // Different claims spread over the levels.
  std::set<std::string> seen;
  for (int i = 0; i < 40; ++i) {
    seen.insert(std::string(tags(100 + i, {{"claim", "claim number " + std::to_string(i)}})
                                .at("bastion/contradiction")
                                .as_string()));
  }
  EXPECT_EQ(seen.size(), 4u);

  const json::object forced =
      tags(3, {{"claim", "the moon is cheese"}, {"level", "extreme"}, {"quality", 0.25}});
  EXPECT_EQ(forced.at("bastion/contradiction"), "extreme");
  EXPECT_DOUBLE_EQ(forced.at("bastion/quality").to_number<double>(), 0.25);
  auto rejected = result_of(
      agent_.call(4, "tools/call", tool_call("contradict", {{"claim", "x"}, {"level", "loud"}})));
  EXPECT_EQ(rejected.at("isError"), true);
}

TEST_F(SessionEra, FailAnswersJsonRpcErrorsOrToolErrors) {
  initialize(agent_);
  auto rpc = agent_.call(1, "tools/call", tool_call("fail", {{"code", -32042}}));
  EXPECT_EQ(error_code(rpc), -32042);
  EXPECT_EQ(result_of(agent_.call(2, "tools/call", tool_call("fail"))).at("isError"), true);
  EXPECT_EQ(result_of(agent_.call(3, "tools/call", tool_call("fail", {{"code", 7}}))).at("isError"),
            true);
}

TEST_F(SessionEra, SlowReportsIncreasingProgressThenAnswers) {
  initialize(agent_);
  json::object params = tool_call("slow", {{"ms", 200}});
  params["_meta"] = json::object{{"progressToken", "slow-1"}};
  auto response = agent_.call(1, "tools/call", std::move(params));
  EXPECT_EQ(first_text(result_of(response)), "Slept 200 ms");
  auto progress = agent_.take([](const json::object& m) {
    return has_method(m, "notifications/progress") &&
           m.at("params").at("progressToken") == "slow-1";
  });
  ASSERT_EQ(progress.size(), 11u);
  double previous = -1;
  for (const auto& p : progress) {
    const double value = p.at("params").at("progress").to_number<double>();
    EXPECT_GT(value, previous);
    previous = value;
    EXPECT_EQ(p.at("params").at("_meta").at("bastion/relatedRequestId"), 1);
  }
  EXPECT_DOUBLE_EQ(previous, 200.0);
}

TEST_F(SessionEra, CancelledSlowCallNeverAnswers) {
  initialize(agent_);
  json::object params = tool_call("slow", {{"ms", 1000}});
  params["_meta"] = json::object{{"progressToken", "cancel-me"}};
  const auto started = std::chrono::steady_clock::now();
  agent_.send(request(7, "tools/call", std::move(params)));
  ASSERT_TRUE(
      agent_.await([](const json::object& m) { return has_method(m, "notifications/progress"); }));
  agent_.send(
      notification("notifications/cancelled", json::object{{"requestId", 7}, {"reason", "test"}}));
  EXPECT_TRUE(result_of(agent_.call(8, "ping")).empty());
  // An uncancelled call would answer at ~1000 ms; wait well past that.
  const auto window = std::chrono::duration_cast<std::chrono::milliseconds>(
      started + 1600ms - std::chrono::steady_clock::now());
  EXPECT_FALSE(agent_.await_response(7, window).has_value());
  // The id is free again once the cancelled call is gone.
  EXPECT_EQ(first_text(
                result_of(agent_.call(7, "tools/call", tool_call("echo", {{"message", "again"}})))),
            "again");
}

TEST_F(SessionEra, LeakGrowsResidentMemory) {
  initialize(agent_);
  const auto before = agent_.rss_kib();
  ASSERT_TRUE(before.has_value());
  auto result = result_of(agent_.call(1, "tools/call", tool_call("leak", {{"mb", 64}})));
  EXPECT_EQ(result.at("structuredContent").at("totalLeakedMiB"), 64);
  result = result_of(agent_.call(2, "tools/call", tool_call("leak", {{"mb", 16}})));
  EXPECT_EQ(result.at("structuredContent").at("totalLeakedMiB"), 80);
  const auto after = agent_.rss_kib();
  ASSERT_TRUE(after.has_value());
  EXPECT_GE(*after - *before, 78 * 1024);
  EXPECT_EQ(result_of(agent_.call(3, "tools/call", tool_call("leak", {{"mb", 0}}))).at("isError"),
            true);
}

TEST_F(SessionEra, SamplingRoundTripUsesTheAgentsOwnRequestId) {
  initialize(agent_);
  agent_.send(
      request(1, "tools/call", tool_call("test_sampling", {{"prompt", "Capital of France?"}})));
  auto ask = agent_.await(
      [](const json::object& m) { return is_request_for(m, "sampling/createMessage"); });
  ASSERT_TRUE(ask.has_value());
  const auto& params = ask->at("params").as_object();
  EXPECT_EQ(params.at("maxTokens"), 100);
  EXPECT_EQ(params.at("messages").at(0).at("content").at("text"), "Capital of France?");
  agent_.send(reply(ask->at("id"), json::object{{"role", "assistant"},
                                                {"content", {{"type", "text"}, {"text", "Paris"}}},
                                                {"model", "test-model"},
                                                {"stopReason", "endTurn"}}));
  EXPECT_EQ(first_text(result_of(agent_.await_response(1))), "LLM response: Paris");
}

TEST_F(SessionEra, ElicitationRoundTripsIncludingSep1034AndSep1330Schemas) {
  initialize(agent_);
  agent_.send(
      request(1, "tools/call", tool_call("test_elicitation", {{"message", "Who are you?"}})));
  auto ask =
      agent_.await([](const json::object& m) { return is_request_for(m, "elicitation/create"); });
  ASSERT_TRUE(ask.has_value());
  EXPECT_EQ(ask->at("params").at("message"), "Who are you?");
  agent_.send(reply(
      ask->at("id"),
      {{"action", "accept"}, {"content", {{"username", "testuser"}, {"email", "t@example.com"}}}}));
  const std::string text = first_text(result_of(agent_.await_response(1)));
  EXPECT_NE(text.find("action=accept"), std::string::npos) << text;
  EXPECT_NE(text.find("testuser"), std::string::npos) << text;

  agent_.send(request(2, "tools/call", tool_call("test_elicitation_sep1034_defaults")));
  ask = agent_.await([](const json::object& m) { return is_request_for(m, "elicitation/create"); });
  ASSERT_TRUE(ask.has_value());
  const auto& defaults = ask->at("params").at("requestedSchema").at("properties").as_object();
  EXPECT_EQ(defaults.at("name").at("default"), "John Doe");
  EXPECT_EQ(defaults.at("age").at("type"), "integer");
  EXPECT_EQ(defaults.at("age").at("default"), 30);
  EXPECT_DOUBLE_EQ(defaults.at("score").at("default").to_number<double>(), 95.5);
  EXPECT_EQ(defaults.at("status").at("default"), "active");
  EXPECT_EQ(defaults.at("verified").at("default"), true);
  agent_.send(reply(ask->at("id"), {{"action", "decline"}}));
  EXPECT_NE(first_text(result_of(agent_.await_response(2))).find("action=decline"),
            std::string::npos);

  agent_.send(request(3, "tools/call", tool_call("test_elicitation_sep1330_enums")));
  ask = agent_.await([](const json::object& m) { return is_request_for(m, "elicitation/create"); });
  ASSERT_TRUE(ask.has_value());
  const auto& enums = ask->at("params").at("requestedSchema").at("properties").as_object();
  EXPECT_TRUE(enums.at("untitledSingle").as_object().contains("enum"));
  EXPECT_EQ(enums.at("titledSingle").at("oneOf").as_array().size(), 3u);
  EXPECT_EQ(enums.at("legacyEnum").at("enumNames").as_array().size(), 3u);
  EXPECT_EQ(enums.at("untitledMulti").at("items").at("type"), "string");
  EXPECT_EQ(enums.at("titledMulti").at("items").at("anyOf").at(0).at("title"), "First Choice");
  agent_.send(reply(ask->at("id"), {{"action", "cancel"}}));
  EXPECT_TRUE(agent_.await_response(3).has_value());
}

TEST_F(SessionEra, RootsAndMultiRoundWorkAsLiveRequests) {
  initialize(agent_);
  agent_.send(request(1, "tools/call", tool_call("test_input_required_result_multi_round")));
  for (const char* answer : {"Ada", "green"}) {
    auto ask =
        agent_.await([](const json::object& m) { return is_request_for(m, "elicitation/create"); });
    ASSERT_TRUE(ask.has_value());
    const std::string field =
        ask->at("params").at("requestedSchema").at("required").at(0).as_string().c_str();
    agent_.send(reply(ask->at("id"), {{"action", "accept"}, {"content", {{field, answer}}}}));
  }
  EXPECT_EQ(first_text(result_of(agent_.await_response(1))), "Ada's favorite color is green");

  agent_.send(request(2, "tools/call", tool_call("test_input_required_result_list_roots")));
  auto ask = agent_.await([](const json::object& m) { return is_request_for(m, "roots/list"); });
  ASSERT_TRUE(ask.has_value());
  agent_.send(
      reply(ask->at("id"), {{"roots", json::array{{{"uri", "file:///srv"}, {"name", "srv"}}}}}));
  EXPECT_EQ(first_text(result_of(agent_.await_response(2))), "Client roots: file:///srv");
}

TEST_F(SessionEra, MissingCapabilityOrClientErrorBecomesAToolError) {
  initialize(agent_, json::object{});  // declares nothing
  auto result =
      result_of(agent_.call(1, "tools/call", tool_call("test_sampling", {{"prompt", "hi"}})));
  EXPECT_EQ(result.at("isError"), true);
  EXPECT_TRUE(
      agent_.take([](const json::object& m) { return m.contains("method") && m.contains("id"); })
          .empty());

  initialize(agent_);
  agent_.send(request(2, "tools/call", tool_call("test_sampling", {{"prompt", "hi"}})));
  auto ask = agent_.await(
      [](const json::object& m) { return is_request_for(m, "sampling/createMessage"); });
  ASSERT_TRUE(ask.has_value());
  json::object refusal{{"jsonrpc", "2.0"},
                       {"id", ask->at("id")},
                       {"error", {{"code", -1}, {"message", "User rejected sampling"}}}};
  agent_.send(refusal);
  EXPECT_EQ(result_of(agent_.await_response(2)).at("isError"), true);
}

TEST(SessionEraTimeouts, UnansweredClientRequestTimesOutAndIsCancelled) {
  AgentProcess agent({"BASTION_DEMO_INPUT_TIMEOUT_MS=300"});
  ASSERT_TRUE(agent.started());
  initialize(agent);
  agent.send(request(1, "tools/call", tool_call("test_elicitation", {{"message", "anyone?"}})));
  auto ask =
      agent.await([](const json::object& m) { return is_request_for(m, "elicitation/create"); });
  ASSERT_TRUE(ask.has_value());
  auto response = agent.await_response(1, 3000ms);
  EXPECT_EQ(result_of(response).at("isError"), true);
  auto cancelled = agent.await(
      [](const json::object& m) { return has_method(m, "notifications/cancelled"); }, 1000ms);
  ASSERT_TRUE(cancelled.has_value());
  EXPECT_EQ(cancelled->at("params").at("requestId"), ask->at("id"));
}

TEST_F(SessionEra, LoggingRespectsSetLevel) {
  initialize(agent_);
  const auto is_log = [](const json::object& m) { return has_method(m, "notifications/message"); };
  EXPECT_TRUE(result_of(agent_.call(1, "logging/setLevel", {{"level", "warning"}})).empty());
  result_of(agent_.call(2, "tools/call", tool_call("test_tool_with_logging")));
  EXPECT_TRUE(agent_.take(is_log).empty());

  result_of(agent_.call(3, "logging/setLevel", {{"level", "debug"}}));
  result_of(agent_.call(4, "tools/call", tool_call("test_tool_with_logging")));
  const auto logs = agent_.take(is_log);
  ASSERT_EQ(logs.size(), 3u);
  EXPECT_EQ(logs[0].at("params").at("data"), "Tool execution started");
  EXPECT_EQ(logs[2].at("params").at("level"), "info");

  EXPECT_EQ(error_code(agent_.call(5, "logging/setLevel", {{"level", "loud"}})), -32602);
}

TEST_F(SessionEra, ResourcesReadListSubscribeAndUpdate) {
  initialize(agent_);
  const auto resources = result_of(agent_.call(1, "resources/list")).at("resources").as_array();
  ASSERT_GE(resources.size(), 3u);
  EXPECT_EQ(resources[0].at("uri"), "test://static-text");

  auto text = result_of(agent_.call(2, "resources/read", {{"uri", "test://static-text"}}));
  EXPECT_EQ(text.at("contents").at(0).at("text"),
            "This is the content of the static text resource.");
  auto binary = result_of(agent_.call(3, "resources/read", {{"uri", "test://static-binary"}}));
  EXPECT_EQ(binary.at("contents").at(0).at("mimeType"), "image/png");
  EXPECT_TRUE(binary.at("contents").at(0).as_object().contains("blob"));
  auto templated =
      result_of(agent_.call(4, "resources/read", {{"uri", "test://template/123/data"}}));
  EXPECT_NE(std::string(templated.at("contents").at(0).at("text").as_string()).find("123"),
            std::string::npos);
  auto templates = result_of(agent_.call(5, "resources/templates/list"));
  EXPECT_EQ(templates.at("resourceTemplates").at(0).at("uriTemplate"), "test://template/{id}/data");

  auto missing = agent_.call(6, "resources/read", {{"uri", "test://nope"}});
  EXPECT_EQ(error_code(missing), -32002);
  EXPECT_EQ(missing->at("error").at("data").at("uri"), "test://nope");

  const auto is_update = [](const json::object& m) {
    return has_method(m, "notifications/resources/updated");
  };
  EXPECT_TRUE(result_of(agent_.call(7, "resources/subscribe", {{"uri", "test://watched-resource"}}))
                  .empty());
  result_of(agent_.call(8, "tools/call", tool_call("test_trigger_resource_update")));
  auto updates = agent_.take(is_update);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].at("params").at("uri"), "test://watched-resource");
  auto watched = result_of(agent_.call(9, "resources/read", {{"uri", "test://watched-resource"}}));
  EXPECT_NE(std::string(watched.at("contents").at(0).at("text").as_string()).find("version 2"),
            std::string::npos);

  EXPECT_TRUE(
      result_of(agent_.call(10, "resources/unsubscribe", {{"uri", "test://watched-resource"}}))
          .empty());
  result_of(agent_.call(11, "tools/call", tool_call("test_trigger_resource_update")));
  EXPECT_TRUE(agent_.take(is_update).empty());
  EXPECT_EQ(error_code(agent_.call(12, "resources/subscribe", {{"uri", "test://nope"}})), -32002);
}

TEST_F(SessionEra, TriggersAnnounceListChanges) {
  initialize(agent_);
  result_of(agent_.call(1, "tools/call", tool_call("test_trigger_tool_change")));
  EXPECT_EQ(agent_
                .take([](const json::object& m) {
                  return has_method(m, "notifications/tools/list_changed");
                })
                .size(),
            1u);
  EXPECT_EQ(first_text(result_of(agent_.call(2, "tools/call", tool_call("test_dynamic_tool")))),
            "test_dynamic_tool was added at run time");
  result_of(agent_.call(3, "tools/call", tool_call("test_trigger_tool_change")));
  EXPECT_EQ(error_code(agent_.call(4, "tools/call", tool_call("test_dynamic_tool"))), -32602);

  result_of(agent_.call(5, "tools/call", tool_call("test_trigger_prompt_change")));
  EXPECT_EQ(agent_
                .take([](const json::object& m) {
                  return has_method(m, "notifications/prompts/list_changed");
                })
                .size(),
            1u);
  bool listed = false;
  const json::object prompts = result_of(agent_.call(6, "prompts/list"));
  for (const auto& p : prompts.at("prompts").as_array()) {
    listed |= p.at("name") == "test_dynamic_prompt";
  }
  EXPECT_TRUE(listed);
  result_of(agent_.call(7, "tools/call", tool_call("test_trigger_resource_list_change")));
  EXPECT_EQ(agent_
                .take([](const json::object& m) {
                  return has_method(m, "notifications/resources/list_changed");
                })
                .size(),
            1u);
}

TEST_F(SessionEra, PromptsAndCompletion) {
  initialize(agent_);
  const auto prompts = result_of(agent_.call(1, "prompts/list")).at("prompts").as_array();
  EXPECT_GE(prompts.size(), 5u);
  auto simple = result_of(agent_.call(2, "prompts/get", {{"name", "test_simple_prompt"}}));
  EXPECT_EQ(simple.at("messages").at(0).at("role"), "user");
  auto with_args = result_of(agent_.call(3, "prompts/get",
                                         {{"name", "test_prompt_with_arguments"},
                                          {"arguments", {{"arg1", "hello"}, {"arg2", "world"}}}}));
  EXPECT_EQ(with_args.at("messages").at(0).at("content").at("text"),
            "Prompt with arguments: arg1='hello', arg2='world'");
  EXPECT_EQ(error_code(agent_.call(
                4, "prompts/get",
                {{"name", "test_prompt_with_arguments"}, {"arguments", {{"arg1", "x"}}}})),
            -32602);
  EXPECT_EQ(error_code(agent_.call(5, "prompts/get",
                                   {{"name", "test_prompt_with_arguments"},
                                    {"arguments", {{"arg1", 1}, {"arg2", "x"}}}})),
            -32602);
  auto embedded = result_of(agent_.call(6, "prompts/get",
                                        {{"name", "test_prompt_with_embedded_resource"},
                                         {"arguments", {{"resourceUri", "test://x"}}}}));
  EXPECT_EQ(embedded.at("messages").at(0).at("content").at("resource").at("uri"), "test://x");
  auto image = result_of(agent_.call(7, "prompts/get", {{"name", "test_prompt_with_image"}}));
  EXPECT_EQ(image.at("messages").at(0).at("content").at("type"), "image");
  EXPECT_EQ(error_code(agent_.call(8, "prompts/get", {{"name", "nope"}})), -32602);

  auto completion = result_of(
      agent_.call(9, "completion/complete",
                  {{"ref", {{"type", "ref/prompt"}, {"name", "test_prompt_with_arguments"}}},
                   {"argument", {{"name", "arg1"}, {"value", "pa"}}}}));
  EXPECT_EQ(completion.at("completion").at("values"), (json::array{"paris", "park", "party"}));
  auto ids = result_of(
      agent_.call(10, "completion/complete",
                  {{"ref", {{"type", "ref/resource"}, {"uri", "test://template/{id}/data"}}},
                   {"argument", {{"name", "id"}, {"value", "12"}}}}));
  EXPECT_EQ(ids.at("completion").at("values"), (json::array{"123"}));
  EXPECT_EQ(error_code(agent_.call(11, "completion/complete",
                                   {{"ref", {{"type", "ref/prompt"}, {"name", "nope"}}},
                                    {"argument", {{"name", "a"}, {"value", ""}}}})),
            -32602);

  // The MRTR prompt is a live elicitation in this era.
  agent_.send(request(12, "prompts/get", {{"name", "test_input_required_result_prompt"}}));
  auto ask =
      agent_.await([](const json::object& m) { return is_request_for(m, "elicitation/create"); });
  ASSERT_TRUE(ask.has_value());
  agent_.send(reply(ask->at("id"), {{"action", "accept"}, {"content", {{"context", "ctx"}}}}));
  EXPECT_EQ(result_of(agent_.await_response(12)).at("messages").at(0).at("content").at("text"),
            "Prompt with context: ctx");
}

TEST_F(SessionEra, ConformanceContentFixtures) {
  initialize(agent_);
  auto image = result_of(agent_.call(1, "tools/call", tool_call("test_image_content")));
  EXPECT_EQ(image.at("content").at(0).at("mimeType"), "image/png");
  auto audio = result_of(agent_.call(2, "tools/call", tool_call("test_audio_content")));
  EXPECT_EQ(audio.at("content").at(0).at("mimeType"), "audio/wav");
  auto mixed = result_of(agent_.call(3, "tools/call", tool_call("test_multiple_content_types")));
  EXPECT_EQ(mixed.at("content").as_array().size(), 3u);
  auto error = result_of(agent_.call(4, "tools/call", tool_call("test_error_handling")));
  EXPECT_EQ(error.at("isError"), true);
  json::object params = tool_call("test_tool_with_progress");
  params["_meta"] = json::object{{"progressToken", 99}};
  result_of(agent_.call(5, "tools/call", std::move(params)));
  auto progress =
      agent_.take([](const json::object& m) { return has_method(m, "notifications/progress"); });
  ASSERT_EQ(progress.size(), 3u);
  EXPECT_EQ(progress[1].at("params").at("progress").to_number<double>(), 50.0);
  EXPECT_EQ(progress[2].at("params").at("progressToken"), 99);

  const auto tools = result_of(agent_.call(6, "tools/list")).at("tools").as_array();
  for (const auto& tool : tools) {
    if (tool.at("name") == "json_schema_2020_12_tool") {
      const auto& schema = tool.at("inputSchema").as_object();
      EXPECT_EQ(schema.at("$schema"), "https://json-schema.org/draft/2020-12/schema");
      EXPECT_EQ(schema.at("$defs").at("address").at("$anchor"), "addressDef");
      EXPECT_EQ(schema.at("additionalProperties"), false);
      EXPECT_TRUE(schema.contains("allOf") && schema.contains("if") && schema.contains("then") &&
                  schema.contains("else"));
    }
  }
}

TEST_F(SessionEra, MalformedInputGetsJsonRpcErrors) {
  agent_.send_raw("this is not json\n");
  auto parse_error = agent_.await([](const json::object& m) { return m.contains("error"); });
  ASSERT_TRUE(parse_error.has_value());
  EXPECT_EQ(parse_error->at("error").at("code"), -32700);
  EXPECT_TRUE(parse_error->at("id").is_null());

  EXPECT_EQ(error_code(agent_.call(1, "no/such/method")), -32601);
  EXPECT_EQ(error_code(agent_.call(2, "tools/call", json::object{})), -32602);
  EXPECT_EQ(error_code(agent_.call(3, "tools/call", tool_call("no_such_tool"))), -32602);
  EXPECT_EQ(error_code(agent_.call(4, "tools/call", {{"name", "echo"}, {"arguments", "x"}})),
            -32602);

  agent_.send_raw(R"({"jsonrpc":"2.0","id":5,"method":"ping","params":[1,2]})"
                  "\n");
  EXPECT_EQ(error_code(agent_.await_response(5)), -32602);
  agent_.send_raw(R"({"jsonrpc":"1.0","id":6,"method":"ping"})"
                  "\n");
  EXPECT_EQ(error_code(agent_.await_response(6)), -32600);
  agent_.send_raw(R"({"jsonrpc":"2.0","id":null,"method":"ping"})"
                  "\n");
  auto null_id = agent_.await([](const json::object& m) { return m.contains("error"); });
  ASSERT_TRUE(null_id.has_value());
  EXPECT_EQ(null_id->at("error").at("code"), -32600);
  agent_.send_raw(std::string(100, '[') + std::string(100, ']') + "\n");  // too deep
  auto deep = agent_.await([](const json::object& m) { return m.contains("error"); });
  ASSERT_TRUE(deep.has_value());
  EXPECT_EQ(deep->at("error").at("code"), -32700);
  agent_.send_raw("\n   \r\n");  // blank lines are ignored
  EXPECT_TRUE(result_of(agent_.call(7, "ping")).empty());
}

TEST_F(SessionEra, RejectsLinesOver16MiBAndKeepsWorking) {
  std::string huge =
      R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":")";
  huge.append(16 * 1024 * 1024, 'a');
  huge += "\"}}}\n";
  agent_.send_raw(huge);
  auto rejected = agent_.await([](const json::object& m) { return m.contains("error"); }, 10000ms);
  ASSERT_TRUE(rejected.has_value());
  EXPECT_EQ(rejected->at("error").at("code"), -32600);
  EXPECT_TRUE(rejected->at("id").is_null());

  // Just under the limit is still a message.
  const std::string big(8 * 1024 * 1024, 'b');
  auto echoed = agent_.call(2, "tools/call", tool_call("echo", {{"message", big}}), 10000ms);
  EXPECT_EQ(first_text(result_of(echoed)).size(), big.size());
}

TEST_F(SessionEra, BatchesAreAnsweredAsOneArray) {
  initialize(agent_);
  json::array batch{request(1, "ping"),
                    request(2, "tools/call", tool_call("echo", {{"message", "in batch"}})),
                    notification("notifications/initialized"), json::value(17)};
  agent_.send(batch);
  auto answer = agent_.await([](const json::object& m) { return m.contains("batch"); });
  ASSERT_TRUE(answer.has_value());
  const auto& replies = answer->at("batch").as_array();
  ASSERT_EQ(replies.size(), 3u);  // the notification gets no reply
  EXPECT_EQ(replies[0].at("id"), 1);
  EXPECT_EQ(first_text(replies[1].at("result").as_object()), "in batch");
  EXPECT_EQ(replies[2].at("error").at("code"), -32600);
  agent_.send(json::array{});
  auto empty = agent_.await([](const json::object& m) { return m.contains("error"); });
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->at("error").at("code"), -32600);
}

TEST_F(SessionEra, DuplicateInFlightIdIsRejected) {
  initialize(agent_);
  agent_.send(request(1, "tools/call", tool_call("slow", {{"ms", 300}})));
  agent_.send(request(1, "tools/call", tool_call("echo", {{"message", "dup"}})));
  auto first = agent_.await_response(1);
  auto second = agent_.await_response(1);
  ASSERT_TRUE(first && second);
  // One of them is the duplicate error (it is written first), the other the slow result.
  EXPECT_EQ(error_code(first), -32600);
  EXPECT_EQ(first_text(result_of(second)), "Slept 300 ms");
}

TEST_F(SessionEra, ConcurrentWritesNeverInterleave) {
  initialize(agent_);
  const std::string payload(4096, 'z');
  for (int i = 0; i < 60; ++i) {
    if (i % 10 == 0) {
      json::object params = tool_call("slow", {{"ms", 20}});
      params["_meta"] = json::object{{"progressToken", i}};
      agent_.send(request(1000 + i, "tools/call", std::move(params)));
    }
    agent_.send(
        request(i, "tools/call", tool_call("echo", {{"message", payload + std::to_string(i)}})));
  }
  for (int i = 0; i < 60; ++i) {
    auto response = agent_.await_response(i, 10000ms);
    ASSERT_TRUE(response.has_value()) << i;
    EXPECT_EQ(first_text(result_of(response)), payload + std::to_string(i));
  }
  for (int i = 0; i < 60; i += 10) {
    EXPECT_TRUE(agent_.await_response(1000 + i, 10000ms).has_value());
  }
  EXPECT_TRUE(agent_.bad_lines().empty());
}

TEST(Lifecycle, ExitsCleanlyOnEofAfterAnsweringWhatWasSent) {
  AgentProcess agent;
  ASSERT_TRUE(agent.started());
  agent.send(request(1, "tools/call", tool_call("echo", {{"message", "last words"}})));
  agent.close_stdin();
  EXPECT_EQ(first_text(result_of(agent.await_response(1))), "last words");
  EXPECT_EQ(agent.wait_exit(5000ms), 0);
}

TEST(Lifecycle, EofCancelsLongRunningWorkAfterTheGracePeriod) {
  AgentProcess agent;
  ASSERT_TRUE(agent.started());
  initialize(agent);
  agent.send(request(1, "tools/call", tool_call("slow", {{"ms", 120000}})));
  agent.send(request(2, "tools/call", tool_call("test_elicitation", {{"message", "?"}})));
  ASSERT_TRUE(
      agent.await([](const json::object& m) { return is_request_for(m, "elicitation/create"); }));
  const auto closed = std::chrono::steady_clock::now();
  agent.close_stdin();
  // The elicitation can never be answered now: it fails at once instead of timing out.
  EXPECT_EQ(result_of(agent.await_response(2, 2000ms)).at("isError"), true);
  EXPECT_EQ(agent.wait_exit(10000ms), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - closed, 8000ms);
  EXPECT_FALSE(agent.await_response(1, 100ms).has_value());  // cancelled work is not answered
}

}  // namespace
}  // namespace bastion::demo::testing
