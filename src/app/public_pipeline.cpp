#include "app/public_pipeline.hpp"

#include <boost/json.hpp>
#include <optional>

#include "guard/auth/resource_metadata.hpp"
#include "guard/call_policy.hpp"
#include "mcp/jsonrpc.hpp"

namespace bastion::app {

namespace asio = boost::asio;
namespace http = net::http;
namespace json = boost::json;

std::shared_ptr<Generation> make_generation(core::Config config, const guard::GuardResources& resources) {
  auto gen = std::make_shared<Generation>();
  gen->config = std::move(config);
  gen->guards = guard::GuardChain::standard(gen->config, resources);
  gen->security_headers = guard::SecurityHeaders(gen->config.headers);
  return gen;
}

void attach_router(Generation& gen, std::shared_ptr<mcp::RecordSink> records) {
  gen.router = std::make_shared<mcp::Router>(gen.config, gen.upstreams, std::move(records));
  // Per-tool allowlists only matter once callers are authenticated.
  if (gen.config.auth.enabled()) gen.router->set_policy(std::make_shared<guard::ToolAllowlistPolicy>());
}

net::ServerLimits limits_from(const core::Config& c) {
  net::ServerLimits l;
  l.max_body_bytes = c.limits.max_body_bytes;
  l.max_header_bytes = c.limits.max_header_bytes;
  l.header_timeout = c.limits.header_timeout;
  l.idle_timeout = c.limits.idle_timeout;
  l.max_connections = c.limits.max_connections;
  return l;
}

asio::awaitable<bool> HeaderingWriter::send(net::Response response) {
  decorate(response);
  co_return co_await inner_.send(std::move(response));
}

asio::awaitable<bool> HeaderingWriter::start_stream(http::response<http::empty_body> header) {
  decorate(header);
  co_return co_await inner_.start_stream(std::move(header));
}

void HeaderingWriter::decorate(http::fields& fields) const {
  security_.apply(fields, tls_);
  if (extra_) {
    for (const auto& [name, value] : *extra_) fields.set(name, value);
  }
}

std::string path_of(const net::Request& req) {
  std::string_view target(req.target().data(), req.target().size());
  auto q = target.find('?');
  return std::string(target.substr(0, q));
}

net::Response json_reply(http::status status, const json::value& body, std::string_view type) {
  net::Response res{status, 11};
  res.set(http::field::content_type, type);
  res.set(http::field::cache_control, "no-store");
  res.body() = json::serialize(body);
  return res;
}

namespace {

// Built outside coroutines: GCC 12 mis-compiles brace-initialised JSON inside them.
net::Response public_health_reply() {
  return json_reply(http::status::ok, json::object{{"status", "pass"}}, "application/health+json");
}

// Documents are read with GET (or HEAD); any other method, unknown ones included, is 405.
net::Response method_not_allowed_reply(unsigned version) {
  auto res = net::text_response(http::status::method_not_allowed, "method not allowed", version);
  res.set(http::field::allow, "GET, HEAD");
  return res;
}

// Counts one POST against the generation it started with.
class PostInFlight {
 public:
  explicit PostInFlight(const Generation& gen) : gen_(gen) { ++gen_.posts_in_flight; }
  ~PostInFlight() { --gen_.posts_in_flight; }
  PostInFlight(const PostInFlight&) = delete;
  PostInFlight& operator=(const PostInFlight&) = delete;

 private:
  const Generation& gen_;
};

// The MCP calls in a POST body, for guards that limit by method or tool. Tool names take the
// form a policy sees (`<upstream><sep><tool>` on pass-through routes). Unparseable bodies yield
// nothing here; the endpoint answers them with the proper JSON-RPC error.
std::vector<guard::CallPeek> peek_calls(const net::Request& req, const std::string& path, const Generation& gen) {
  std::vector<guard::CallPeek> calls;
  if (req.method() != http::verb::post) return calls;
  std::string route;
  if (path.rfind("/mcp/", 0) == 0) route = path.substr(5);
  auto parsed = mcp::parse_body(req.body(), mcp::ParseLimits{gen.config.limits.max_json_depth});
  if (!parsed.body) return calls;
  for (const auto& m : parsed.body->messages) {
    if (m.kind != mcp::MessageKind::request) continue;
    guard::CallPeek call{std::string(m.method()), {}, {}};
    if (call.method == "tools/call" && m.params()) {
      if (const auto* name = m.params()->if_contains("name"); name && name->is_string()) {
        call.tool = gen.router->policy_tool_name(route, name->get_string());
      }
      if (const auto* args = m.params()->if_contains("arguments")) call.arguments = *args;
    }
    calls.push_back(std::move(call));
  }
  return calls;
}

// Denied and rate-limited requests are interactions too: the knowledge base sees every attempt.
mcp::InteractionRecord rejected_record(const guard::RequestContext& ctx, const guard::Rejection& rejection,
                                       const std::string& separator) {
  mcp::InteractionRecord r;
  r.method = ctx.calls.empty() ? std::string("http ") + std::string(ctx.request.method_string()) : ctx.calls.front().method;
  if (ctx.path.rfind("/mcp/", 0) == 0) r.upstream = ctx.path.substr(5);
  if (!ctx.calls.empty() && !ctx.calls.front().tool.empty()) {
    // Policy form "<upstream><sep><tool>": the same columns as a call that went through.
    const auto& policy_name = ctx.calls.front().tool;
    auto at = policy_name.find(separator);
    if (at != std::string::npos) {
      r.upstream = policy_name.substr(0, at);
      r.tool = policy_name.substr(at + separator.size());
    } else {
      r.tool = policy_name;
    }
    r.arguments = ctx.calls.front().arguments;
  }
  r.client = ctx.caller.authenticated ? ctx.caller.name : "anonymous";
  const auto code = static_cast<unsigned>(rejection.status);
  r.status = code == 429 ? "rate_limited" : code == 503 ? "unavailable" : "denied";
  r.error_code = static_cast<int>(code);
  r.error_message = rejection.reason;
  r.request_bytes = ctx.request.body().size();
  return r;
}

// RFC 9728: where MCP clients learn which authorization server issues tokens for this resource.
net::Response protected_resource_reply(const core::AuthConfig& auth) {
  guard::auth::ResourceMetadata m;
  m.resource = auth.resource;
  m.authorization_servers = auth.authorization_servers;
  if (m.authorization_servers.empty() && auth.jwt) m.authorization_servers = {auth.jwt->issuer};
  m.scopes_supported = auth.scopes_supported;
  net::Response res{http::status::ok, 11};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "max-age=3600");
  res.body() = guard::auth::resource_metadata_document(m);
  return res;
}

std::shared_ptr<const mcp::RequestCaller> caller_of(const guard::RequestContext& ctx) {
  auto caller = std::make_shared<mcp::RequestCaller>();
  caller->name = ctx.caller.name;
  caller->tools = ctx.caller.tools;
  caller->scopes = ctx.caller.scopes;
  caller->authenticated = ctx.caller.authenticated;
  caller->address = ctx.client_text;
  return caller;
}

}  // namespace

asio::awaitable<void> handle_public(std::shared_ptr<const Generation> gen, mcp::StreamableHttpEndpoint& endpoint,
                                    mcp::RecordSink& records, guard::RejectionCounters& rejections,
                                    net::Request& req, net::ResponseWriter& raw_writer,
                                    const net::ConnectionInfo& conn) {
  std::optional<PostInFlight> in_flight;
  if (req.method() == http::verb::post) in_flight.emplace(*gen);
  guard::RequestContext ctx(req, conn);
  HeaderingWriter writer(raw_writer, gen->security_headers, conn.tls, &ctx.response_headers);
  if (gen->guards.needs_calls()) ctx.calls = peek_calls(req, path_of(req), *gen);
  if (auto rejection = co_await gen->guards.run(ctx)) {
    if (ctx.path == "/mcp" || ctx.path.rfind("/mcp/", 0) == 0) {
      // What was attempted, for the record (parsed only now unless a guard needed it already).
      if (ctx.calls.empty()) ctx.calls = peek_calls(req, ctx.path, *gen);
      records.record(rejected_record(ctx, *rejection, gen->config.federation.separator));
    }
    co_await writer.send(guard::reject(*rejection, rejections, req.version()));
    co_return;
  }
  auto path = path_of(req);
  const bool read_only = req.method() == http::verb::get || req.method() == http::verb::head;
  if (!read_only && (path == "/healthz" || path.rfind("/.well-known/", 0) == 0)) {
    co_await writer.send(method_not_allowed_reply(req.version()));
    co_return;
  }
  if (path == "/healthz") {
    co_await writer.send(public_health_reply());
    co_return;
  }
  if (path.rfind(guard::auth::kWellKnownProtectedResource, 0) == 0 && !gen->config.auth.resource.empty()) {
    co_await writer.send(protected_resource_reply(gen->config.auth));
    co_return;
  }
  auto caller = caller_of(ctx);
  if (path == "/mcp" || path == "/mcp/") {
    co_await endpoint.handle(req, writer, "", caller);
    co_return;
  }
  if (path.rfind("/mcp/", 0) == 0) {
    auto name = path.substr(5);
    if (gen->router->has_upstream(name)) {
      co_await endpoint.handle(req, writer, name, caller);
      co_return;
    }
  }
  co_await writer.send(net::text_response(http::status::not_found, "not found", req.version()));
}

}  // namespace bastion::app
