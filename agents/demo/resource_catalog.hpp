// test:// resources, the test://template/{id}/data template, and completion suggestions.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <string_view>
#include <variant>

#include "demo/json_rpc.hpp"
#include "demo/protocol.hpp"
#include "demo/session.hpp"

namespace bastion::demo {

namespace json = boost::json;

inline constexpr std::string_view kWatchedResourceUri = "test://watched-resource";
inline constexpr std::string_view kDynamicResourceUri = "test://dynamic-resource";

struct ResourceRead {
  json::object result;      // ReadResourceResult
  std::int64_t ttl_ms = 0;  // 2026 caching hint: how long this content stays valid
};

json::array list_resources(const CatalogState& state);
json::array list_resource_templates();
bool resource_exists(std::string_view uri, const CatalogState& state);

// Unknown URIs: -32002 in the session era, -32602 (SEP-2164) in the stateless one; both carry
// the uri in error.data.
std::variant<ResourceRead, jsonrpc::RpcError> read_resource(std::string_view uri,
                                                            const CatalogState& state,
                                                            protocol::Era era);

// completion/complete for the prompt arguments and the template variable.
std::variant<json::object, jsonrpc::RpcError> complete(const json::object& params);

}  // namespace bastion::demo
