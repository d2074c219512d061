// Integration tests for the 2026-07-28 (stateless) era: no initialize, per-request _meta,
// server/discover, caching hints, MRTR input_required rounds, subscriptions/listen.
#include <gtest/gtest.h>

#include <string>

#include "demo/agent_process.hpp"

namespace bastion::demo::testing {
namespace {

class StatelessEra : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(agent_.started()); }
  void TearDown() override {
    EXPECT_TRUE(agent_.bad_lines().empty());
    // The stateless era never gets server->client requests (MRTR replaces them).
    EXPECT_TRUE(
        agent_.take([](const json::object& m) { return m.contains("method") && m.contains("id"); })
            .empty());
  }

  // A stateless request: params plus _meta with the given capabilities.
  std::optional<json::object> call(const json::value& id, std::string_view method,
                                   json::object params = {},
                                   json::object capabilities = all_client_capabilities()) {
    json::object meta = stateless_meta(std::move(capabilities));
    if (const json::value* extra = params.if_contains("_meta")) {
      for (const auto& entry : extra->as_object()) {
        meta[entry.key()] = entry.value();
      }
    }
    params["_meta"] = std::move(meta);
    return agent_.call(id, method, std::move(params));
  }

  std::optional<json::object> tool(const json::value& id, std::string_view name,
                                   json::object extra = {},
                                   json::object capabilities = all_client_capabilities()) {
    extra["name"] = name;
    if (!extra.contains("arguments")) {
      extra["arguments"] = json::object();
    }
    return call(id, "tools/call", std::move(extra), std::move(capabilities));
  }

  static json::object result(const std::optional<json::object>& response) {
    if (!response || !response->contains("result")) {
      ADD_FAILURE() << "expected a result, got "
                    << (response ? json::serialize(*response) : std::string("nothing"));
      return {};
    }
    return response->at("result").as_object();
  }

  static json::object error(const std::optional<json::object>& response) {
    if (!response || !response->contains("error")) {
      ADD_FAILURE() << "expected an error, got "
                    << (response ? json::serialize(*response) : std::string("nothing"));
      return {};
    }
    return response->at("error").as_object();
  }

  static json::object accept(json::object content) {
    return json::object{{"action", "accept"}, {"content", std::move(content)}};
  }

  AgentProcess agent_;
};

TEST_F(StatelessEra, DiscoverNeedsNoInitializeAndDescribesTheServer) {
  auto discovered = result(call(1, "server/discover", {}, json::object{}));
  EXPECT_EQ(discovered.at("resultType"), "complete");
  const auto& versions = discovered.at("supportedVersions").as_array();
  EXPECT_NE(std::find(versions.begin(), versions.end(), json::value("2026-07-28")), versions.end());
  EXPECT_TRUE(discovered.at("capabilities").as_object().contains("tools"));
  EXPECT_TRUE(discovered.at("capabilities").as_object().contains("prompts"));
  EXPECT_EQ(discovered.at("_meta").at("io.modelcontextprotocol/serverInfo").at("name"),
            "bastion-demo-agent");
  EXPECT_GE(discovered.at("ttlMs").as_int64(), 0);
  EXPECT_EQ(discovered.at("cacheScope"), "public");
}

TEST_F(StatelessEra, MalformedMetaAndVersionsAreRejected) {
  EXPECT_EQ(error(agent_.call(1, "server/discover")).at("code"), -32602);
  json::object no_caps{{"_meta", {{"io.modelcontextprotocol/protocolVersion", "2026-07-28"}}}};
  EXPECT_EQ(error(agent_.call(2, "server/discover", no_caps)).at("code"), -32602);
  // clientInfo is optional.
  json::object no_info{{"_meta",
                        {{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                         {"io.modelcontextprotocol/clientCapabilities", json::object()}}}};
  EXPECT_TRUE(agent_.call(3, "server/discover", no_info)->contains("result"));

  json::object v999{{"_meta",
                     {{"io.modelcontextprotocol/protocolVersion", "v999.0.0"},
                      {"io.modelcontextprotocol/clientCapabilities", json::object()}}}};
  auto unsupported = error(agent_.call(4, "server/discover", v999));
  EXPECT_EQ(unsupported.at("code"), -32022);
  EXPECT_EQ(unsupported.at("data").at("requested"), "v999.0.0");
  const auto discovered = result(call(5, "server/discover"));
  for (const auto& version : unsupported.at("data").at("supported").as_array()) {
    const auto& listed = discovered.at("supportedVersions").as_array();
    EXPECT_NE(std::find(listed.begin(), listed.end(), version), listed.end());
  }
}

TEST_F(StatelessEra, RemovedAndUnknownMethodsAreNotFound) {
  int id = 10;
  for (const char* method : {"initialize", "ping", "logging/setLevel", "resources/subscribe",
                             "resources/unsubscribe", "unknown/method"}) {
    auto response = call(id, method);
    EXPECT_EQ(error(response).at("code"), -32601) << method;
    EXPECT_EQ(response->at("id"), id++) << method;
  }
}

TEST_F(StatelessEra, CacheableResultsCarryHints) {
  for (const char* method :
       {"tools/list", "prompts/list", "resources/list", "resources/templates/list"}) {
    auto listed = result(call(method, method));
    EXPECT_EQ(listed.at("resultType"), "complete") << method;
    EXPECT_TRUE(listed.at("ttlMs").is_int64()) << method;
    EXPECT_GE(listed.at("ttlMs").as_int64(), 0) << method;
    EXPECT_EQ(listed.at("cacheScope"), "public") << method;
  }
  auto first = result(call(1, "resources/list")).at("resources").at(0).at("uri");
  auto read = result(call(2, "resources/read", {{"uri", first}}));
  EXPECT_EQ(read.at("ttlMs"), 300000);
  auto watched = result(call(3, "resources/read", {{"uri", "test://watched-resource"}}));
  EXPECT_EQ(watched.at("ttlMs"), 0);
  // Never input_required on methods that do not support it.
  EXPECT_EQ(result(call(4, "tools/list")).at("resultType"), "complete");
  EXPECT_EQ(result(call(5, "completion/complete",
                        {{"ref", {{"type", "ref/prompt"}, {"name", "test_prompt_with_arguments"}}},
                         {"argument", {{"name", "arg1"}, {"value", "test"}}}}))
                .at("resultType"),
            "complete");
}

TEST_F(StatelessEra, UnknownResourceIsInvalidParamsWithTheUri) {
  auto failure = error(call(1, "resources/read", {{"uri", "test://nonexistent-resource"}}));
  EXPECT_EQ(failure.at("code"), -32602);
  EXPECT_EQ(failure.at("data").at("uri"), "test://nonexistent-resource");
}

TEST_F(StatelessEra, UndeclaredCapabilityIsMissingRequiredClientCapability) {
  auto failure = error(tool(1, "test_missing_capability", {}, json::object{}));
  EXPECT_EQ(failure.at("code"), -32021);
  EXPECT_TRUE(failure.at("data").at("requiredCapabilities").at("sampling").is_object());
  // The same holds for tools that would have asked the client in the session era.
  EXPECT_EQ(error(tool(2, "test_elicitation", {{"arguments", {{"message", "?"}}}}, json::object{}))
                .at("code"),
            -32021);
}

TEST_F(StatelessEra, ElicitationRoundTripThroughInputRequired) {
  auto round1 = result(tool(1, "test_input_required_result_elicitation"));
  EXPECT_EQ(round1.at("resultType"), "input_required");
  EXPECT_EQ(round1.at("inputRequests").at("user_name").at("method"), "elicitation/create");
  ASSERT_TRUE(round1.at("requestState").is_string());

  auto round2 = result(tool(2, "test_input_required_result_elicitation",
                            {{"inputResponses", {{"user_name", accept({{"name", "Alice"}})}}},
                             {"requestState", round1.at("requestState")}}));
  EXPECT_EQ(round2.at("resultType"), "complete");
  EXPECT_EQ(first_text(round2), "Hello, Alice!");

  // Extra keys are ignored, and this tool needs no state to finish.
  auto extra = result(tool(3, "test_input_required_result_elicitation",
                           {{"inputResponses",
                             {{"user_name", accept({{"name", "Bob"}})},
                              {"unknown_extra_key", accept({{"foo", "bar"}})}}}}));
  EXPECT_EQ(first_text(extra), "Hello, Bob!");
  // A wrong key re-requests the missing input rather than failing.
  auto wrong = result(tool(4, "test_input_required_result_elicitation",
                           {{"inputResponses", {{"wrong_key", accept({{"data", "x"}})}}}}));
  EXPECT_EQ(wrong.at("resultType"), "input_required");
  EXPECT_TRUE(wrong.at("inputRequests").as_object().contains("user_name"));
}

TEST_F(StatelessEra, SamplingAndRootsRoundTrips) {
  auto ask = result(tool(1, "test_input_required_result_sampling"));
  const auto& sampling = ask.at("inputRequests").at("capital_question").as_object();
  EXPECT_EQ(sampling.at("method"), "sampling/createMessage");
  EXPECT_EQ(sampling.at("params").at("maxTokens"), 100);
  auto done = result(tool(2, "test_input_required_result_sampling",
                          {{"inputResponses",
                            {{"capital_question",
                              {{"role", "assistant"},
                               {"content", {{"type", "text"}, {"text", "Paris."}}},
                               {"model", "m"}}}}},
                           {"requestState", ask.at("requestState")}}));
  EXPECT_EQ(first_text(done), "Sampling answer: Paris.");

  auto roots = result(tool(3, "test_input_required_result_list_roots"));
  EXPECT_EQ(roots.at("inputRequests").at("client_roots").at("method"), "roots/list");
  auto listed = result(
      tool(4, "test_input_required_result_list_roots",
           {{"inputResponses",
             {{"client_roots", {{"roots", json::array{{{"uri", "file:///test/root"}}}}}}}}}));
  EXPECT_EQ(first_text(listed), "Client roots: file:///test/root");

  // In this era the session-era tools use MRTR too, never a server->client request.
  auto live_tool = result(tool(5, "test_sampling", {{"arguments", {{"prompt", "hi"}}}}));
  EXPECT_EQ(live_tool.at("resultType"), "input_required");
}

TEST_F(StatelessEra, RequestStateIsRequiredVerifiedAndBound) {
  auto round1 = result(tool(1, "test_input_required_result_request_state"));
  const json::value state = round1.at("requestState");
  const json::object answers{{"confirm", accept({{"ok", true}})}};

  // Without the state the answer is not accepted: the server asks again.
  auto stateless_retry =
      result(tool(2, "test_input_required_result_request_state", {{"inputResponses", answers}}));
  EXPECT_EQ(stateless_retry.at("resultType"), "input_required");

  auto done = result(tool(3, "test_input_required_result_request_state",
                          {{"inputResponses", answers}, {"requestState", state}}));
  EXPECT_NE(first_text(done).find("state-ok"), std::string::npos);

  // Tampered, foreign-tool and changed-argument states are all rejected.
  auto tampered = tool(4, "test_input_required_result_request_state",
                       {{"inputResponses", answers},
                        {"requestState", std::string(state.as_string()) + "-TAMPERED"}});
  EXPECT_EQ(error(tampered).at("code"), -32602);
  auto foreign = tool(5, "test_input_required_result_tampered_state",
                      {{"inputResponses", answers}, {"requestState", state}});
  EXPECT_EQ(error(foreign).at("code"), -32602);
  auto changed =
      tool(6, "test_input_required_result_request_state",
           {{"arguments", {{"x", 1}}}, {"inputResponses", answers}, {"requestState", state}});
  EXPECT_EQ(error(changed).at("code"), -32602);
  EXPECT_EQ(error(tool(7, "test_input_required_result_request_state",
                       {{"inputResponses", answers}, {"requestState", 42}}))
                .at("code"),
            -32602);
}

TEST_F(StatelessEra, TamperedStateIsRejected) {
  auto round1 = result(tool(1, "test_input_required_result_tampered_state"));
  const std::string state(round1.at("requestState").as_string());
  auto tampered = tool(2, "test_input_required_result_tampered_state",
                       {{"inputResponses", {{"confirm", accept({{"ok", true}})}}},
                        {"requestState", state + "-TAMPERED"}});
  EXPECT_EQ(error(tampered).at("code"), -32602);
  auto good =
      tool(3, "test_input_required_result_tampered_state",
           {{"inputResponses", {{"confirm", accept({{"ok", true}})}}}, {"requestState", state}});
  EXPECT_NE(first_text(result(good)).find("state-ok"), std::string::npos);
}

TEST_F(StatelessEra, MultipleInputsCanBeAnsweredAcrossRounds) {
  auto round1 = result(tool(1, "test_input_required_result_multiple_inputs"));
  const auto& requests = round1.at("inputRequests").as_object();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests.at("user_name").at("method"), "elicitation/create");
  EXPECT_EQ(requests.at("greeting").at("method"), "sampling/createMessage");
  EXPECT_EQ(requests.at("client_roots").at("method"), "roots/list");

  // Only one answer: the other two are asked for again, the first is carried in the state.
  auto round2 = result(tool(2, "test_input_required_result_multiple_inputs",
                            {{"inputResponses", {{"user_name", accept({{"name", "Alice"}})}}},
                             {"requestState", round1.at("requestState")}}));
  EXPECT_EQ(round2.at("resultType"), "input_required");
  EXPECT_EQ(round2.at("inputRequests").as_object().size(), 2u);
  EXPECT_NE(round2.at("requestState"), round1.at("requestState"));

  auto round3 = result(tool(3, "test_input_required_result_multiple_inputs",
                            {{"inputResponses",
                              {{"greeting",
                                {{"role", "assistant"},
                                 {"content", {{"type", "text"}, {"text", "Hi!"}}},
                                 {"model", "m"}}},
                               {"client_roots", {{"roots", json::array{{{"uri", "file:///a"}}}}}}}},
                             {"requestState", round2.at("requestState")}}));
  EXPECT_EQ(first_text(round3), "Name: Alice; greeting: Hi!; roots: file:///a");
}

TEST_F(StatelessEra, MultiRoundCarriesEarlierAnswersInTheState) {
  auto round1 = result(tool(1, "test_input_required_result_multi_round"));
  ASSERT_TRUE(round1.at("inputRequests").as_object().contains("step1"));
  auto round2 = result(tool(2, "test_input_required_result_multi_round",
                            {{"inputResponses", {{"step1", accept({{"name", "Alice"}})}}},
                             {"requestState", round1.at("requestState")}}));
  ASSERT_TRUE(round2.at("inputRequests").as_object().contains("step2"));
  EXPECT_NE(round2.at("requestState"), round1.at("requestState"));
  // Dropping the state loses step 1, so the server starts over rather than guessing.
  auto lost = result(tool(3, "test_input_required_result_multi_round",
                          {{"inputResponses", {{"step2", accept({{"color", "blue"}})}}}}));
  EXPECT_TRUE(lost.at("inputRequests").as_object().contains("step1"));
  auto round3 = result(tool(4, "test_input_required_result_multi_round",
                            {{"inputResponses", {{"step2", accept({{"color", "blue"}})}}},
                             {"requestState", round2.at("requestState")}}));
  EXPECT_EQ(first_text(round3), "Alice's favorite color is blue");
}

TEST_F(StatelessEra, OnlyDeclaredCapabilitiesAreAskedFor) {
  auto sampling_only = result(tool(1, "test_input_required_result_capabilities", {},
                                   json::object{{"sampling", json::object()}}));
  EXPECT_EQ(sampling_only.at("resultType"), "input_required");
  const auto& requests = sampling_only.at("inputRequests").as_object();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests.begin()->value().at("method"), "sampling/createMessage");
}

TEST_F(StatelessEra, InvalidInputResponsesAreRejected) {
  json::object number{{"inputResponses", {{"user_name", 12345}}}};
  EXPECT_EQ(error(tool(1, "test_input_required_result_elicitation", number)).at("code"), -32602);
  json::object null_responses{{"inputResponses", nullptr}};
  EXPECT_EQ(error(tool(2, "test_input_required_result_elicitation", null_responses)).at("code"),
            -32602);
  json::object bad_action{{"inputResponses", {{"user_name", {{"action", "maybe"}}}}}};
  EXPECT_EQ(error(tool(3, "test_input_required_result_elicitation", bad_action)).at("code"),
            -32602);
}

TEST_F(StatelessEra, PromptsCanRequireInputToo) {
  auto round1 = result(call(1, "prompts/get", {{"name", "test_input_required_result_prompt"}}));
  EXPECT_EQ(round1.at("resultType"), "input_required");
  EXPECT_EQ(round1.at("inputRequests").at("user_context").at("method"), "elicitation/create");
  auto round2 =
      result(call(2, "prompts/get",
                  {{"name", "test_input_required_result_prompt"},
                   {"inputResponses", {{"user_context", accept({{"context", "test context"}})}}},
                   {"requestState", round1.at("requestState")}}));
  EXPECT_EQ(round2.at("resultType"), "complete");
  EXPECT_EQ(round2.at("messages").at(0).at("content").at("text"),
            "Prompt with context: test context");
  auto simple = result(call(3, "prompts/get", {{"name", "test_simple_prompt"}}));
  EXPECT_EQ(simple.at("resultType"), "complete");
}

TEST_F(StatelessEra, LogsOnlyWhenTheRequestOptsIn) {
  const auto is_log = [](const json::object& m) { return has_method(m, "notifications/message"); };
  result(tool(1, "test_logging_tool"));
  EXPECT_TRUE(agent_.take(is_log).empty());
  result(
      tool(2, "test_logging_tool", {{"_meta", {{"io.modelcontextprotocol/logLevel", "warning"}}}}));
  auto warnings = agent_.take(is_log);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].at("params").at("level"), "warning");
  EXPECT_EQ(warnings[0].at("params").at("_meta").at("bastion/relatedRequestId"), 2);
  result(
      tool(3, "test_logging_tool", {{"_meta", {{"io.modelcontextprotocol/logLevel", "debug"}}}}));
  EXPECT_EQ(agent_.take(is_log).size(), 3u);
}

TEST_F(StatelessEra, ProgressAndCancellationWork) {
  result(tool(1, "test_tool_with_progress", {{"_meta", {{"progressToken", "progress-test-1"}}}}));
  auto progress = agent_.take([](const json::object& m) {
    return has_method(m, "notifications/progress") &&
           m.at("params").at("progressToken") == "progress-test-1";
  });
  EXPECT_EQ(progress.size(), 3u);

  json::object params{{"name", "slow"}, {"arguments", {{"ms", 800}}}};
  params["_meta"] = stateless_meta(json::object{});
  params["_meta"].as_object()["progressToken"] = "s";
  const auto started = std::chrono::steady_clock::now();
  agent_.send(request(2, "tools/call", params));
  ASSERT_TRUE(
      agent_.await([](const json::object& m) { return has_method(m, "notifications/progress"); }));
  agent_.send(notification("notifications/cancelled", {{"requestId", 2}}));
  const auto window = std::chrono::duration_cast<std::chrono::milliseconds>(
      started + 1400ms - std::chrono::steady_clock::now());
  EXPECT_FALSE(agent_.await_response(2, window).has_value());
}

TEST_F(StatelessEra, ListenStreamsGetOnlyWhatTheyAskedFor) {
  json::object listen{{"notifications", {{"toolsListChanged", true}}}};
  listen["_meta"] = stateless_meta(json::object{});
  agent_.send(request("sub-1", "subscriptions/listen", listen));
  auto ack = agent_.await([](const json::object& m) {
    return has_method(m, "notifications/subscriptions/acknowledged");
  });
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->at("params").at("_meta").at("io.modelcontextprotocol/subscriptionId"), "sub-1");
  EXPECT_EQ(ack->at("params").at("notifications"), (json::object{{"toolsListChanged", true}}));

  json::object resources{{"notifications",
                          {{"resourceSubscriptions",
                            json::array{"test://watched-resource", "test://no-such-thing"}}}}};
  resources["_meta"] = stateless_meta(json::object{});
  agent_.send(request(77, "subscriptions/listen", resources));
  auto ack2 = agent_.await([](const json::object& m) {
    return has_method(m, "notifications/subscriptions/acknowledged");
  });
  ASSERT_TRUE(ack2.has_value());
  EXPECT_EQ(ack2->at("params").at("notifications").at("resourceSubscriptions"),
            (json::array{"test://watched-resource"}));

  const auto tagged = [](std::string_view method, const json::value& id) {
    return [method, id](const json::object& m) {
      return has_method(m, method) &&
             m.at("params").at("_meta").at("io.modelcontextprotocol/subscriptionId") == id;
    };
  };
  result(tool(1, "test_trigger_tool_change"));
  EXPECT_EQ(agent_.take(tagged("notifications/tools/list_changed", "sub-1")).size(), 1u);
  result(tool(2, "test_trigger_prompt_change"));
  EXPECT_TRUE(agent_
                  .take([](const json::object& m) {
                    return has_method(m, "notifications/prompts/list_changed");
                  })
                  .empty());
  result(tool(3, "test_trigger_resource_update"));
  auto updated = agent_.take(tagged("notifications/resources/updated", 77));
  ASSERT_EQ(updated.size(), 1u);
  EXPECT_EQ(updated[0].at("params").at("uri"), "test://watched-resource");

  // Cancelling the listen request ends the subscription; it is never answered.
  agent_.send(notification("notifications/cancelled", {{"requestId", "sub-1"}}));
  result(tool(4, "test_trigger_tool_change"));
  EXPECT_TRUE(agent_
                  .take([](const json::object& m) {
                    return has_method(m, "notifications/tools/list_changed");
                  })
                  .empty());
  EXPECT_TRUE(
      agent_.take([](const json::object& m) { return m.contains("id") && m.at("id") == "sub-1"; })
          .empty());
  EXPECT_EQ(error(call(5, "subscriptions/listen", {{"notifications", 3}})).at("code"), -32602);
}

TEST_F(StatelessEra, BothErasShareOneConnection) {
  json::object init{{"protocolVersion", "2025-11-25"},
                    {"capabilities", json::object()},
                    {"clientInfo", {{"name", "gtest"}, {"version", "1"}}}};
  ASSERT_TRUE(agent_.call(1, "initialize", init)->contains("result"));
  EXPECT_TRUE(agent_.call(2, "ping")->contains("result"));
  EXPECT_EQ(result(call(3, "tools/list")).at("resultType"), "complete");
  EXPECT_FALSE(agent_.call(4, "tools/list")->at("result").as_object().contains("resultType"));
  // A change made through a stateless call is announced to the initialized session too.
  result(tool(5, "test_trigger_tool_change"));
  EXPECT_EQ(agent_
                .take([](const json::object& m) {
                  return has_method(m, "notifications/tools/list_changed") &&
                         !m.at("params").as_object().contains("_meta");
                })
                .size(),
            1u);
}

}  // namespace
}  // namespace bastion::demo::testing
