// What a handler produces: a result, a JSON-RPC error, a request for client input (2026 MRTR),
// or nothing at all (the request was cancelled and MCP forbids answering it).
#pragma once

#include <boost/json.hpp>
#include <string>
#include <variant>

#include "demo/json_rpc.hpp"

namespace bastion::demo {

namespace json = boost::json;

struct InputRequired {
  json::object input_requests;  // key -> {method, params}
  std::string request_state;
};

struct NoReply {};

using Outcome = std::variant<json::object, jsonrpc::RpcError, InputRequired, NoReply>;

}  // namespace bastion::demo
