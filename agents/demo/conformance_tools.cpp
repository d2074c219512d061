// Fixtures called by the official MCP conformance suite's server scenarios (2025-11-25 and
// 2026-07-28), plus the trigger hooks that make list_changed / updated notifications happen.
#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "demo/content.hpp"
#include "demo/resource_catalog.hpp"
#include "demo/tool_args.hpp"
#include "demo/tool_catalog.hpp"

namespace bastion::demo {
namespace {

using namespace std::chrono_literals;
using protocol::LogLevel;

constexpr auto kFixtureStepDelay = 50ms;  // the suite expects spaced-out notifications

// ---- input requests (elicitation, sampling, roots) and reading their answers ----

json::object field(std::string_view type, std::string_view description) {
  json::object out;
  out["type"] = type;
  out["description"] = description;
  return out;
}

json::object elicitation(std::string_view message, json::object properties,
                         std::vector<std::string_view> required) {
  json::object requested;
  requested["type"] = "object";
  requested["properties"] = std::move(properties);
  if (!required.empty()) {
    json::array names;
    for (const auto name : required) {
      names.emplace_back(name);
    }
    requested["required"] = std::move(names);
  }
  json::object params;
  params["message"] = message;
  params["requestedSchema"] = std::move(requested);
  json::object request;
  request["method"] = "elicitation/create";
  request["params"] = std::move(params);
  return request;
}

json::object sampling(std::string_view prompt, std::int64_t max_tokens) {
  json::object text_block = content::text(prompt);
  json::object user;
  user["role"] = "user";
  user["content"] = std::move(text_block);
  json::array messages;
  messages.emplace_back(std::move(user));
  json::object params;
  params["messages"] = std::move(messages);
  params["maxTokens"] = max_tokens;
  json::object request;
  request["method"] = "sampling/createMessage";
  request["params"] = std::move(params);
  return request;
}

json::object list_roots() {
  json::object request;
  request["method"] = "roots/list";
  request["params"] = json::object();
  return request;
}

std::string describe_elicitation(const json::object& answer) {
  std::string out = "action=" + std::string(answer.at("action").as_string());
  if (const json::value* values = answer.if_contains("content")) {
    out += ", content=" + json::serialize(*values);
  }
  return out;
}

// One field of an accepted elicitation, as text.
std::string elicited(const json::object& answer, std::string_view name) {
  if (answer.at("action").as_string() != "accept") {
    return "(" + std::string(answer.at("action").as_string()) + ")";
  }
  const json::value* values = answer.if_contains("content");
  const json::value* value =
      values != nullptr && values->is_object() ? values->get_object().if_contains(name) : nullptr;
  if (value == nullptr) {
    return "(not given)";
  }
  return value->is_string() ? std::string(value->get_string()) : json::serialize(*value);
}

std::string sampled_text(const json::object& answer) {
  const json::value& body = answer.at("content");
  const auto text_of = [](const json::value& block) -> std::optional<std::string> {
    if (const json::object* o = block.if_object()) {
      if (const json::value* t = o->if_contains("text"); t && t->is_string()) {
        return std::string(t->get_string());
      }
    }
    return std::nullopt;
  };
  if (const json::array* blocks = body.if_array()) {
    for (const auto& block : *blocks) {
      if (auto t = text_of(block)) {
        return *t;
      }
    }
    return "(no text)";
  }
  return text_of(body).value_or("(no text)");
}

std::string root_uris(const json::object& answer) {
  std::string out;
  for (const json::value& root : answer.at("roots").as_array()) {
    if (!out.empty()) {
      out += ", ";
    }
    out += root.at("uri").as_string();
  }
  return out.empty() ? "(no roots)" : out;
}

json::object no_arguments() { return schema::object(json::object()); }

// ---- content fixtures ----

Outcome simple_text(CallContext&, const json::object&) {
  return content::tool_text("This is a simple text response for testing.");
}

Outcome image_content(CallContext&, const json::object&) {
  json::array blocks;
  blocks.emplace_back(content::image_png());
  return content::tool_result(std::move(blocks));
}

Outcome audio_content(CallContext&, const json::object&) {
  json::array blocks;
  blocks.emplace_back(content::audio_wav());
  return content::tool_result(std::move(blocks));
}

Outcome embedded_resource(CallContext&, const json::object&) {
  json::array blocks;
  blocks.emplace_back(content::embedded_text_resource("test://embedded-resource", "text/plain",
                                                      "This is an embedded resource content."));
  return content::tool_result(std::move(blocks));
}

Outcome multiple_content_types(CallContext&, const json::object&) {
  json::object data;
  data["test"] = "data";
  data["value"] = 123;
  json::array blocks;
  blocks.emplace_back(content::text("Multiple content types test:"));
  blocks.emplace_back(content::image_png());
  blocks.emplace_back(content::embedded_text_resource("test://mixed-content-resource",
                                                      "application/json", json::serialize(data)));
  return content::tool_result(std::move(blocks));
}

Outcome error_handling(CallContext&, const json::object&) {
  return content::tool_error("This tool intentionally returns an error for testing");
}

Outcome schema_2020_12(CallContext&, const json::object& args) {
  return content::tool_text("JSON Schema 2020-12 tool received: " + json::serialize(args));
}

Outcome custom_header(CallContext&, const json::object& args) {
  const auto* region = args.if_contains("region");
  std::string text = region && region->is_string() ? std::string(region->get_string()) : "(none)";
  return content::tool_text("region: " + text);
}

// ---- logging and progress ----

Outcome tool_with_logging(CallContext& ctx, const json::object&) {
  ctx.log(LogLevel::info, "Tool execution started");
  if (!ctx.sleep_for(kFixtureStepDelay)) {
    return NoReply{};
  }
  ctx.log(LogLevel::info, "Tool processing data");
  if (!ctx.sleep_for(kFixtureStepDelay)) {
    return NoReply{};
  }
  ctx.log(LogLevel::info, "Tool execution completed");
  return content::tool_text("Tool with logging executed successfully");
}

Outcome tool_with_progress(CallContext& ctx, const json::object&) {
  ctx.progress(0, 100, "Completed step 0 of 100");
  if (!ctx.sleep_for(kFixtureStepDelay)) {
    return NoReply{};
  }
  ctx.progress(50, 100, "Completed step 50 of 100");
  if (!ctx.sleep_for(kFixtureStepDelay)) {
    return NoReply{};
  }
  ctx.progress(100, 100, "Completed step 100 of 100");
  return content::tool_text("Tool with progress executed successfully");
}

Outcome logging_tool(CallContext& ctx, const json::object&) {
  ctx.log(LogLevel::debug, "test_logging_tool: debug detail");
  ctx.log(LogLevel::info, "test_logging_tool: evaluating");
  ctx.log(LogLevel::warning, "test_logging_tool: a warning for filters to keep");
  return content::tool_text("Logging evaluated");
}

// ---- sampling and elicitation (server->client requests, or MRTR in 2026) ----

Outcome sampling_tool(CallContext& ctx, const json::object& args) {
  const auto prompt = string_arg(args, "prompt");
  if (!prompt) {
    return content::tool_error("test_sampling needs a string argument 'prompt'");
  }
  const auto answer = ctx.ask("sampling", sampling(*prompt, 100));
  if (auto stop = ctx.input_stop()) {
    return std::move(*stop);
  }
  return content::tool_text("LLM response: " + sampled_text(*answer));
}

Outcome elicitation_tool(CallContext& ctx, const json::object& args) {
  const auto message = string_arg(args, "message");
  if (!message) {
    return content::tool_error("test_elicitation needs a string argument 'message'");
  }
  json::object properties;
  properties["username"] = field("string", "User's response");
  properties["email"] = field("string", "User's email address");
  const auto answer = ctx.ask("user_information",
                              elicitation(*message, std::move(properties), {"username", "email"}));
  if (auto stop = ctx.input_stop()) {
    return std::move(*stop);
  }
  return content::tool_text("User response: " + describe_elicitation(*answer));
}

Outcome elicitation_defaults(CallContext& ctx, const json::object&) {
  json::object name = field("string", "User name");
  name["default"] = "John Doe";
  json::object age = field("integer", "User age");
  age["default"] = 30;
  json::object score = field("number", "User score");
  score["default"] = 95.5;
  json::object status = field("string", "User status");
  status["enum"] = json::array{"active", "inactive", "pending"};
  status["default"] = "active";
  json::object verified = field("boolean", "Verified user");
  verified["default"] = true;
  json::object properties;
  properties["name"] = std::move(name);
  properties["age"] = std::move(age);
  properties["score"] = std::move(score);
  properties["status"] = std::move(status);
  properties["verified"] = std::move(verified);
  const auto answer =
      ctx.ask("defaults", elicitation("Please review and update the form fields with defaults",
                                      std::move(properties), {}));
  if (auto stop = ctx.input_stop()) {
    return std::move(*stop);
  }
  return content::tool_text("Elicitation completed: " + describe_elicitation(*answer));
}

json::array titled_options(std::vector<std::pair<std::string_view, std::string_view>> options) {
  json::array out;
  for (const auto& [value, title] : options) {
    json::object entry;
    entry["const"] = value;
    entry["title"] = title;
    out.emplace_back(std::move(entry));
  }
  return out;
}

Outcome elicitation_enums(CallContext& ctx, const json::object&) {
  json::object untitled_single = field("string", "Untitled single-select");
  untitled_single["enum"] = json::array{"option1", "option2", "option3"};

  json::object titled_single = field("string", "Titled single-select");
  titled_single["oneOf"] = titled_options(
      {{"value1", "First Option"}, {"value2", "Second Option"}, {"value3", "Third Option"}});

  json::object legacy = field("string", "Legacy titled enum (enumNames, deprecated)");
  legacy["enum"] = json::array{"opt1", "opt2", "opt3"};
  legacy["enumNames"] = json::array{"Option One", "Option Two", "Option Three"};

  json::object untitled_items;
  untitled_items["type"] = "string";
  untitled_items["enum"] = json::array{"option1", "option2", "option3"};
  json::object untitled_multi = field("array", "Untitled multi-select");
  untitled_multi["items"] = std::move(untitled_items);

  json::object titled_items;
  titled_items["anyOf"] = titled_options(
      {{"value1", "First Choice"}, {"value2", "Second Choice"}, {"value3", "Third Choice"}});
  json::object titled_multi = field("array", "Titled multi-select");
  titled_multi["items"] = std::move(titled_items);

  json::object properties;
  properties["untitledSingle"] = std::move(untitled_single);
  properties["titledSingle"] = std::move(titled_single);
  properties["legacyEnum"] = std::move(legacy);
  properties["untitledMulti"] = std::move(untitled_multi);
  properties["titledMulti"] = std::move(titled_multi);
  const auto answer = ctx.ask(
      "enums", elicitation("Please choose from each kind of enum", std::move(properties), {}));
  if (auto stop = ctx.input_stop()) {
    return std::move(*stop);
  }
  return content::tool_text("Elicitation completed: " + describe_elicitation(*answer));
}

Outcome missing_capability(CallContext& ctx, const json::object&) {
  // Needs sampling: a stateless caller that did not declare it gets -32021.
  const auto answer = ctx.ask("greeting", sampling("Say hello", 20));
  if (auto stop = ctx.input_stop()) {
    return std::move(*stop);
  }
  return content::tool_text("Success: " + sampled_text(*answer));
}

// ---- SEP-2322 multi round-trip fixtures ----

json::object name_question(std::string_view message) {
  json::object properties;
  properties["name"] = field("string", "Your name");
  return elicitation(message, std::move(properties), {"name"});
}

json::object confirm_question(std::string_view message) {
  json::object properties;
  properties["ok"] = field("boolean", "Confirm");
  return elicitation(message, std::move(properties), {"ok"});
}

Outcome irr_elicitation(CallContext& ctx, const json::object&) {
  const auto answer = ctx.ask("user_name", name_question("What is your name?"));
  if (auto stop = ctx.input_stop()) {
    return std::move(*stop);
  }
  return content::tool_text("Hello, " + elicited(*answer, "name") + "!");
}

Outcome irr_sampling(CallContext& ctx, const json::object&) {
  const auto answer = ctx.ask("capital_question", sampling("What is the capital of France?", 100));
  if (auto stop = ctx.input_stop()) {
    return std::move(*stop);
  }
  return content::tool_text("Sampling answer: " + sampled_text(*answer));
}

Outcome irr_list_roots(CallContext& ctx, const json::object&) {
  const auto answer = ctx.ask("client_roots", list_roots());
  if (auto stop = ctx.input_stop()) {
    return std::move(*stop);
  }
  return content::tool_text("Client roots: " + root_uris(*answer));
}

Outcome irr_request_state(CallContext& ctx, const json::object&) {
  ctx.require_state();
  const auto answer = ctx.ask("confirm", confirm_question("Please confirm"));
  if (auto stop = ctx.input_stop()) {
    return std::move(*stop);
  }
  if (ctx.era() == protocol::Era::stateless) {
    return content::tool_text("state-ok: requestState verified, confirmed=" +
                              elicited(*answer, "ok"));
  }
  return content::tool_text("Confirmation received: confirmed=" + elicited(*answer, "ok"));
}

Outcome irr_multiple_inputs(CallContext& ctx, const json::object&) {
  const auto name = ctx.ask("user_name", name_question("What is your name?"));
  const auto greeting = ctx.ask("greeting", sampling("Generate a greeting", 50));
  const auto roots = ctx.ask("client_roots", list_roots());
  if (auto stop = ctx.input_stop()) {
    return std::move(*stop);
  }
  return content::tool_text("Name: " + elicited(*name, "name") + "; greeting: " +
                            sampled_text(*greeting) + "; roots: " + root_uris(*roots));
}

Outcome irr_multi_round(CallContext& ctx, const json::object&) {
  const auto step1 = ctx.ask("step1", name_question("Step 1: What is your name?"));
  if (auto stop = ctx.input_stop()) {
    return std::move(*stop);
  }
  json::object properties;
  properties["color"] = field("string", "Your favorite color");
  const auto step2 = ctx.ask("step2", elicitation("Step 2: What is your favorite color?",
                                                  std::move(properties), {"color"}));
  if (auto stop = ctx.input_stop()) {
    return std::move(*stop);
  }
  return content::tool_text(elicited(*step1, "name") + "'s favorite color is " +
                            elicited(*step2, "color"));
}

Outcome irr_tampered_state(CallContext& ctx, const json::object&) {
  ctx.require_state();
  const auto answer = ctx.ask("confirm", confirm_question("Please confirm to continue"));
  if (auto stop = ctx.input_stop()) {
    return std::move(*stop);
  }
  return content::tool_text("state-ok: confirmed=" + elicited(*answer, "ok"));
}

Outcome irr_capabilities(CallContext& ctx, const json::object&) {
  // Asks only for what this request's client declared it supports.
  std::optional<json::object> name;
  std::optional<json::object> summary;
  std::optional<json::object> roots;
  if (ctx.client_supports("elicitation")) {
    name = ctx.ask("user_name", name_question("What is your name?"));
  }
  if (ctx.client_supports("sampling")) {
    summary = ctx.ask("summary", sampling("Summarize the capabilities you support", 50));
  }
  if (ctx.client_supports("roots")) {
    roots = ctx.ask("client_roots", list_roots());
  }
  if (auto stop = ctx.input_stop()) {
    return std::move(*stop);
  }
  if (!name && !summary && !roots) {
    return content::tool_text(
        "The client declared none of elicitation, sampling or roots; nothing to ask");
  }
  std::string text = "Collected:";
  if (name) {
    text += " name=" + elicited(*name, "name");
  }
  if (summary) {
    text += " summary=" + sampled_text(*summary);
  }
  if (roots) {
    text += " roots=" + root_uris(*roots);
  }
  return content::tool_text(text);
}

Outcome streaming_elicitation(CallContext& ctx, const json::object&) {
  ctx.progress(0, 2, "asking the client");
  json::object properties;
  properties["topic"] = field("string", "What to stream about");
  const auto answer = ctx.ask(
      "stream_input", elicitation("What should be streamed?", std::move(properties), {"topic"}));
  if (auto stop = ctx.input_stop()) {
    return std::move(*stop);
  }
  ctx.progress(2, 2, "done");
  return content::tool_text("Streaming complete: " + elicited(*answer, "topic"));
}

// ---- triggers for list_changed and resources/updated ----

// Flips the flag atomically; returns its new value.
bool toggle(std::atomic<bool>& flag) {
  bool current = flag.load();
  while (!flag.compare_exchange_weak(current, !current)) {
  }
  return !current;
}

Outcome trigger_tool_change(CallContext& ctx, const json::object&) {
  const bool now_listed = toggle(ctx.session().catalog().dynamic_tool);
  ctx.session().subscriptions().tools_changed();
  return content::tool_text(std::string("test_dynamic_tool is now ") +
                            (now_listed ? "listed" : "unlisted"));
}

Outcome trigger_prompt_change(CallContext& ctx, const json::object&) {
  const bool now_listed = toggle(ctx.session().catalog().dynamic_prompt);
  ctx.session().subscriptions().prompts_changed();
  return content::tool_text(std::string("test_dynamic_prompt is now ") +
                            (now_listed ? "listed" : "unlisted"));
}

Outcome trigger_resource_list_change(CallContext& ctx, const json::object&) {
  const bool now_listed = toggle(ctx.session().catalog().dynamic_resource);
  ctx.session().subscriptions().resources_changed();
  return content::tool_text(std::string(kDynamicResourceUri) + " is now " +
                            (now_listed ? "listed" : "unlisted"));
}

Outcome trigger_resource_update(CallContext& ctx, const json::object& args) {
  std::string uri(kWatchedResourceUri);
  if (args.contains("uri")) {
    const auto given = string_arg(args, "uri");
    if (!given) {
      return content::tool_error("uri must be a string");
    }
    uri = *given;
  }
  if (!resource_exists(uri, ctx.session().catalog())) {
    return content::tool_error("unknown resource " + uri);
  }
  if (uri == kWatchedResourceUri) {
    ++ctx.session().catalog().watched_version;
  }
  ctx.session().subscriptions().resource_updated(uri);
  return content::tool_text("Updated " + uri);
}

json::object schema_2020_12_input() {
  json::object street;
  street["type"] = "string";
  json::object city;
  city["type"] = "string";
  json::object address_properties;
  address_properties["street"] = std::move(street);
  address_properties["city"] = std::move(city);
  json::object address;
  address["$anchor"] = "addressDef";
  address["type"] = "object";
  address["properties"] = std::move(address_properties);
  json::object defs;
  defs["address"] = std::move(address);

  json::object properties;
  properties["name"] = json::object{{"type", "string"}};
  properties["address"] = json::object{{"$ref", "#/$defs/address"}};
  properties["contactMethod"] =
      json::object{{"type", "string"}, {"enum", json::array{"phone", "email"}}};
  properties["phone"] = json::object{{"type", "string"}};
  properties["email"] = json::object{{"type", "string"}};

  json::object out;
  out["$schema"] = "https://json-schema.org/draft/2020-12/schema";
  out["type"] = "object";
  out["$defs"] = std::move(defs);
  out["properties"] = std::move(properties);
  // Reach the caller by phone or by e-mail, and by whichever contactMethod names.
  out["allOf"] = json::array{
      json::object{{"anyOf", json::array{json::object{{"required", json::array{"phone"}}},
                                         json::object{{"required", json::array{"email"}}}}}}};
  out["if"] = json::object{
      {"properties", json::object{{"contactMethod", json::object{{"const", "phone"}}}}},
      {"required", json::array{"contactMethod"}}};
  out["then"] = json::object{{"required", json::array{"phone"}}};
  out["else"] = json::object{{"required", json::array{"email"}}};
  out["additionalProperties"] = false;
  return out;
}

enum class Waits { no, yes };

ToolDefinition fixture(std::string name, std::string description,
                       std::function<Outcome(CallContext&, const json::object&)> run,
                       Waits waits = Waits::no, json::object input_schema = no_arguments()) {
  std::string title = name;
  return {std::move(name),         std::move(title), std::move(description),
          std::move(input_schema), std::move(run),   waits == Waits::yes};
}

}  // namespace

std::vector<ToolDefinition> conformance_tools() {
  std::vector<ToolDefinition> tools;
  tools.push_back(fixture("test_simple_text", "Returns a simple text response", simple_text));
  tools.push_back(fixture("test_image_content", "Returns a PNG image", image_content));
  tools.push_back(fixture("test_audio_content", "Returns a WAV audio clip", audio_content));
  tools.push_back(
      fixture("test_embedded_resource", "Returns an embedded text resource", embedded_resource));
  tools.push_back(fixture("test_multiple_content_types", "Returns text, image and resource content",
                          multiple_content_types));
  tools.push_back(fixture("test_tool_with_logging",
                          "Emits three info log notifications ~50 ms apart", tool_with_logging,
                          Waits::yes));
  tools.push_back(fixture("test_tool_with_progress",
                          "Reports progress 0, 50 and 100 of 100 when given a progressToken",
                          tool_with_progress, Waits::yes));
  tools.push_back(
      fixture("test_error_handling", "Always returns an isError result", error_handling));

  json::object prompt_props;
  prompt_props["prompt"] = schema::string("The prompt to send to the LLM");
  tools.push_back(fixture("test_sampling", "Asks the client's LLM (sampling/createMessage)",
                          sampling_tool, Waits::yes,
                          schema::object(std::move(prompt_props), {"prompt"})));
  json::object message_props;
  message_props["message"] = schema::string("The message to show the user");
  tools.push_back(fixture("test_elicitation", "Asks the user for username and email",
                          elicitation_tool, Waits::yes,
                          schema::object(std::move(message_props), {"message"})));
  tools.push_back(fixture("test_elicitation_sep1034_defaults",
                          "Elicitation with defaults for every primitive type (SEP-1034)",
                          elicitation_defaults, Waits::yes));
  tools.push_back(fixture("test_elicitation_sep1330_enums",
                          "Elicitation with all five enum schema variants (SEP-1330)",
                          elicitation_enums, Waits::yes));
  tools.push_back(fixture("json_schema_2020_12_tool",
                          "Tool with JSON Schema 2020-12 features (SEP-1613, SEP-2106)",
                          schema_2020_12, Waits::no, schema_2020_12_input()));
  // SEP-2243: an argument mirrored into the Mcp-Param-Region header, which gateways must check.
  json::object region = schema::string("Region the request is routed to");
  region["x-mcp-header"] = "Region";
  json::object region_props;
  region_props["region"] = std::move(region);
  tools.push_back(fixture("test_custom_header", "Echoes its region, which travels in Mcp-Param-Region",
                          custom_header, Waits::no, schema::object(std::move(region_props), {"region"})));
  tools.push_back(fixture("test_missing_capability",
                          "Needs the client's sampling capability (-32021 when undeclared)",
                          missing_capability, Waits::yes));
  tools.push_back(fixture("test_input_required_result_elicitation",
                          "MRTR: asks for the user's name (elicitation)", irr_elicitation,
                          Waits::yes));
  tools.push_back(fixture("test_input_required_result_sampling",
                          "MRTR: asks the client's LLM a question (sampling)", irr_sampling,
                          Waits::yes));
  tools.push_back(fixture("test_input_required_result_list_roots",
                          "MRTR: asks for the client's roots", irr_list_roots, Waits::yes));
  tools.push_back(fixture("test_input_required_result_request_state",
                          "MRTR: answers state-ok once its signed requestState comes back",
                          irr_request_state, Waits::yes));
  tools.push_back(fixture("test_input_required_result_multiple_inputs",
                          "MRTR: asks for elicitation, sampling and roots at once",
                          irr_multiple_inputs, Waits::yes));
  tools.push_back(fixture("test_input_required_result_multi_round",
                          "MRTR: two rounds of elicitation with evolving requestState",
                          irr_multi_round, Waits::yes));
  tools.push_back(fixture("test_input_required_result_tampered_state",
                          "MRTR: rejects a requestState that fails HMAC verification",
                          irr_tampered_state, Waits::yes));
  tools.push_back(fixture("test_input_required_result_capabilities",
                          "MRTR: asks only for input the client declared it can give",
                          irr_capabilities, Waits::yes));
  tools.push_back(fixture("test_streaming_elicitation",
                          "Progress plus an elicitation, never a server->client request in 2026",
                          streaming_elicitation, Waits::yes));
  tools.push_back(fixture("test_logging_tool",
                          "Logs at debug, info and warning (2026: only with _meta logLevel)",
                          logging_tool));
  tools.push_back(fixture("test_trigger_tool_change",
                          "Toggles test_dynamic_tool and announces tools/list_changed",
                          trigger_tool_change));
  tools.push_back(fixture("test_trigger_prompt_change",
                          "Toggles test_dynamic_prompt and announces prompts/list_changed",
                          trigger_prompt_change));
  tools.push_back(fixture("test_trigger_resource_list_change",
                          "Toggles test://dynamic-resource and announces resources/list_changed",
                          trigger_resource_list_change));
  json::object uri_props;
  uri_props["uri"] =
      schema::string("Resource to mark as updated (default test://watched-resource)");
  tools.push_back(fixture("test_trigger_resource_update",
                          "Changes a resource and sends notifications/resources/updated",
                          trigger_resource_update, Waits::no,
                          schema::object(std::move(uri_props))));
  return tools;
}

ToolDefinition dynamic_tool() {
  return fixture("test_dynamic_tool", "Listed only while test_trigger_tool_change has it on",
                 [](CallContext&, const json::object&) -> Outcome {
                   return content::tool_text("test_dynamic_tool was added at run time");
                 });
}

}  // namespace bastion::demo
