#include "demo/tool_catalog.hpp"

#include <utility>

namespace bastion::demo {

json::object ToolDefinition::describe() const {
  json::object tool;
  tool["name"] = name;
  tool["title"] = title;
  tool["description"] = description;
  tool["inputSchema"] = input_schema;
  return tool;
}

ToolCatalog::ToolCatalog() : tools_(demo_tools()), dynamic_(dynamic_tool()) {
  auto fixtures = conformance_tools();
  for (auto& tool : fixtures) {
    tools_.push_back(std::move(tool));
  }
}

json::array ToolCatalog::list(const CatalogState& state) const {
  json::array out;
  for (const auto& tool : tools_) {
    out.emplace_back(tool.describe());
  }
  if (state.dynamic_tool.load()) {
    out.emplace_back(dynamic_.describe());
  }
  return out;
}

const ToolDefinition* ToolCatalog::find(std::string_view name, const CatalogState& state) const {
  for (const auto& tool : tools_) {
    if (tool.name == name) {
      return &tool;
    }
  }
  if (state.dynamic_tool.load() && dynamic_.name == name) {
    return &dynamic_;
  }
  return nullptr;
}

namespace schema {

json::object object(json::object properties, std::vector<std::string_view> required) {
  json::object out;
  out["type"] = "object";
  out["properties"] = std::move(properties);
  if (!required.empty()) {
    json::array names;
    for (const auto name : required) {
      names.emplace_back(name);
    }
    out["required"] = std::move(names);
  }
  return out;
}

json::object string(std::string_view description) {
  json::object out;
  out["type"] = "string";
  out["description"] = description;
  return out;
}

json::object integer(std::string_view description, std::int64_t minimum, std::int64_t maximum) {
  json::object out;
  out["type"] = "integer";
  out["description"] = description;
  out["minimum"] = minimum;
  out["maximum"] = maximum;
  return out;
}

json::object number(std::string_view description, double minimum, double maximum) {
  json::object out;
  out["type"] = "number";
  out["description"] = description;
  out["minimum"] = minimum;
  out["maximum"] = maximum;
  return out;
}

}  // namespace schema
}  // namespace bastion::demo
