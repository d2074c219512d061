// Routes one request to its handler for the era the request belongs to and turns the handler's
// Outcome into the JSON-RPC reply (adding resultType and caching hints in the stateless era).
#pragma once

#include <boost/json.hpp>
#include <memory>
#include <optional>

#include "demo/json_rpc.hpp"
#include "demo/outcome.hpp"
#include "demo/protocol.hpp"
#include "demo/session.hpp"
#include "demo/tool_catalog.hpp"

namespace bastion::demo {

namespace json = boost::json;

class Dispatcher {
 public:
  struct Reply {
    std::optional<json::object> message;  // nothing to write for cancelled requests
    bool keep_open = false;               // subscriptions/listen stays in flight until cancelled
  };

  Dispatcher(Session& session, const ToolCatalog& tools);

  // True for requests that may sleep or wait for the client: they run on worker threads.
  // Everything else (echo included) is answered inline, without a thread hand-off.
  bool may_block(const jsonrpc::Request& request) const;

  // Never throws: an unexpected exception becomes -32603 (the error barrier).
  Reply handle(const jsonrpc::Request& request, const std::shared_ptr<RequestControl>& control);
  void handle(const jsonrpc::Notification& notification);

 private:
  struct Call {
    const jsonrpc::Request& request;
    const std::shared_ptr<RequestControl>& control;
    protocol::RequestMeta meta;
  };

  Reply dispatch(const jsonrpc::Request& request, const std::shared_ptr<RequestControl>& control);
  Outcome session_method(Call& call);
  Outcome stateless_method(Call& call, bool& keep_open);
  Outcome shared_method(Call& call, bool& handled);

  Outcome call_tool(Call& call);
  Outcome get_prompt(Call& call);
  Outcome read_resource(Call& call);
  Outcome discover();
  Outcome listen(Call& call);

  Session& session_;
  const ToolCatalog& tools_;
};

}  // namespace bastion::demo
