// test_* prompts, including the MRTR prompt that needs elicitation input.
#pragma once

#include <boost/json.hpp>
#include <string_view>

#include "demo/call_context.hpp"
#include "demo/outcome.hpp"
#include "demo/session.hpp"

namespace bastion::demo {

namespace json = boost::json;

json::array list_prompts(const CatalogState& state);
bool prompt_exists(std::string_view name, const CatalogState& state);

// prompts/get; arguments are the request's (string-valued) prompt arguments.
Outcome get_prompt(CallContext& ctx, std::string_view name, const json::object& arguments);

}  // namespace bastion::demo
