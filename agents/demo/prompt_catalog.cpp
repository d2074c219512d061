#include "demo/prompt_catalog.hpp"

#include <array>
#include <string>
#include <utility>

#include "demo/content.hpp"

namespace bastion::demo {
namespace {

struct PromptArgument {
  std::string_view name;
  std::string_view description;
};

struct PromptInfo {
  std::string_view name;
  std::string_view title;
  std::string_view description;
  std::array<PromptArgument, 2> arguments;  // required arguments; empty names are unused slots
};

constexpr std::array<PromptInfo, 5> kPrompts = {{
    {"test_simple_prompt", "Simple prompt", "A prompt without arguments", {}},
    {"test_prompt_with_arguments",
     "Prompt with arguments",
     "A prompt that substitutes two arguments",
     {{{"arg1", "First test argument"}, {"arg2", "Second test argument"}}}},
    {"test_prompt_with_embedded_resource",
     "Prompt with embedded resource",
     "A prompt that embeds the resource named by resourceUri",
     {{{"resourceUri", "URI of the resource to embed"}, {}}}},
    {"test_prompt_with_image", "Prompt with image", "A prompt that includes an image", {}},
    {"test_input_required_result_prompt",
     "Prompt needing input",
     "A prompt that asks the client for context first (elicitation; MRTR in 2026-07-28)",
     {}},
}};

constexpr std::string_view kDynamicPrompt = "test_dynamic_prompt";

json::object describe(const PromptInfo& info) {
  json::object prompt;
  prompt["name"] = info.name;
  prompt["title"] = info.title;
  prompt["description"] = info.description;
  json::array arguments;
  for (const auto& argument : info.arguments) {
    if (argument.name.empty()) {
      continue;
    }
    json::object entry;
    entry["name"] = argument.name;
    entry["description"] = argument.description;
    entry["required"] = true;
    arguments.emplace_back(std::move(entry));
  }
  prompt["arguments"] = std::move(arguments);
  return prompt;
}

json::object message(json::object block) {
  json::object out;
  out["role"] = "user";
  out["content"] = std::move(block);
  return out;
}

json::object prompt_result(std::string_view description, json::array messages) {
  json::object result;
  result["description"] = description;
  result["messages"] = std::move(messages);
  return result;
}

jsonrpc::RpcError missing_argument(std::string_view prompt, std::string_view argument) {
  return {jsonrpc::kInvalidParams,
          "Invalid params: prompt " + std::string(prompt) + " requires argument " +
              std::string(argument),
          {}};
}

}  // namespace

json::array list_prompts(const CatalogState& state) {
  json::array out;
  for (const auto& info : kPrompts) {
    out.emplace_back(describe(info));
  }
  if (state.dynamic_prompt.load()) {
    out.emplace_back(describe(PromptInfo{kDynamicPrompt,
                                         "Dynamic prompt",
                                         "Listed while test_trigger_prompt_change has it on",
                                         {}}));
  }
  return out;
}

bool prompt_exists(std::string_view name, const CatalogState& state) {
  for (const auto& info : kPrompts) {
    if (info.name == name) {
      return true;
    }
  }
  return name == kDynamicPrompt && state.dynamic_prompt.load();
}

Outcome get_prompt(CallContext& ctx, std::string_view name, const json::object& arguments) {
  for (const auto& info : kPrompts) {
    if (info.name != name) {
      continue;
    }
    for (const auto& argument : info.arguments) {
      if (!argument.name.empty() && !arguments.contains(argument.name)) {
        return missing_argument(name, argument.name);
      }
    }
  }
  const auto arg = [&arguments](std::string_view key) {
    return std::string(arguments.at(key).as_string());
  };

  json::array messages;
  if (name == "test_simple_prompt") {
    messages.emplace_back(message(content::text("This is a simple prompt for testing.")));
    return prompt_result("A simple prompt", std::move(messages));
  }
  if (name == "test_prompt_with_arguments") {
    messages.emplace_back(message(content::text("Prompt with arguments: arg1='" + arg("arg1") +
                                                "', arg2='" + arg("arg2") + "'")));
    return prompt_result("A prompt with arguments", std::move(messages));
  }
  if (name == "test_prompt_with_embedded_resource") {
    messages.emplace_back(message(content::embedded_text_resource(
        arg("resourceUri"), "text/plain", "Embedded resource content for testing.")));
    messages.emplace_back(message(content::text("Please process the embedded resource above.")));
    return prompt_result("A prompt with an embedded resource", std::move(messages));
  }
  if (name == "test_prompt_with_image") {
    messages.emplace_back(message(content::image_png()));
    messages.emplace_back(message(content::text("Please analyze the image above.")));
    return prompt_result("A prompt with an image", std::move(messages));
  }
  if (name == "test_input_required_result_prompt") {
    json::object context_field;
    context_field["type"] = "string";
    context_field["description"] = "Context for the prompt";
    json::object properties;
    properties["context"] = std::move(context_field);
    json::object requested;
    requested["type"] = "object";
    requested["properties"] = std::move(properties);
    requested["required"] = json::array{"context"};
    json::object params;
    params["message"] = "What context should the prompt use?";
    params["requestedSchema"] = std::move(requested);
    json::object request;
    request["method"] = "elicitation/create";
    request["params"] = std::move(params);
    const auto answer = ctx.ask("user_context", std::move(request));
    if (auto stop = ctx.input_stop()) {
      return std::move(*stop);
    }
    std::string context = "(none given)";
    if (const json::value* values = answer->if_contains("content"); values && values->is_object()) {
      if (const json::value* text = values->get_object().if_contains("context");
          text && text->is_string()) {
        context = text->get_string();
      }
    }
    messages.emplace_back(message(content::text("Prompt with context: " + context)));
    return prompt_result("A prompt built from client input", std::move(messages));
  }
  if (name == kDynamicPrompt && ctx.session().catalog().dynamic_prompt.load()) {
    messages.emplace_back(message(content::text("This prompt was added at run time.")));
    return prompt_result("A dynamic prompt", std::move(messages));
  }
  return jsonrpc::RpcError{
      jsonrpc::kInvalidParams, "Invalid params: unknown prompt " + std::string(name), {}};
}

}  // namespace bastion::demo
