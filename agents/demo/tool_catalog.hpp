// The agent's tools: the demo tools of ARCHITECTURE §3 and the conformance-suite fixtures.
#pragma once

#include <boost/json.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "demo/call_context.hpp"
#include "demo/outcome.hpp"
#include "demo/session.hpp"

namespace bastion::demo {

namespace json = boost::json;

struct ToolDefinition {
  std::string name;
  std::string title;
  std::string description;
  json::object input_schema;
  std::function<Outcome(CallContext&, const json::object& arguments)> run;
  // Sleeps or waits for the client: runs on a worker thread, never on the stdin reader (a
  // session-era ask() answered through stdin would otherwise wait for itself).
  bool blocking = false;

  json::object describe() const;
};

// echo, contradict, slow, fail, leak (demo_tools.cpp).
std::vector<ToolDefinition> demo_tools();
// test_* tools the official conformance suite calls, and the trigger hooks (conformance_tools.cpp).
std::vector<ToolDefinition> conformance_tools();
// Listed only while test_trigger_tool_change has switched it on.
ToolDefinition dynamic_tool();

class ToolCatalog {
 public:
  ToolCatalog();
  json::array list(const CatalogState& state) const;
  const ToolDefinition* find(std::string_view name, const CatalogState& state) const;

 private:
  std::vector<ToolDefinition> tools_;
  ToolDefinition dynamic_;
};

// Small builders for JSON Schema fragments used in inputSchema.
namespace schema {
json::object object(json::object properties, std::vector<std::string_view> required = {});
json::object string(std::string_view description);
json::object integer(std::string_view description, std::int64_t minimum, std::int64_t maximum);
json::object number(std::string_view description, double minimum, double maximum);
}  // namespace schema

}  // namespace bastion::demo
