#include "mcp/server/router.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "mcp/protocol.hpp"
#include "mcp/trace_context.hpp"
#include "upstream/link_factory.hpp"

namespace bastion::mcp {

namespace asio = boost::asio;

namespace {

std::string id_key(const json::value& id) { return json::serialize(id); }

json::object error_reply(const json::value& id, int code, std::string_view message) {
  return make_error(id, code, message);
}

// A 2025-era upstream does not know the 2026 _meta keys: strip them rather than confuse it.
void strip_stateless_meta(json::object& request) {
  auto* params = request.if_contains("params");
  if (!params || !params->is_object()) return;
  auto* meta = params->get_object().if_contains("_meta");
  if (!meta || !meta->is_object()) return;
  auto& m = meta->get_object();
  for (auto it = m.begin(); it != m.end();) {
    if (std::string_view(it->key()).rfind("io.modelcontextprotocol/", 0) == 0) it = m.erase(it);
    else ++it;
  }
  if (m.empty()) params->get_object().erase("_meta");
}

// The client's trace context, from params._meta.traceparent (MCP's carrier for W3C Trace Context).
std::optional<ParentContext> client_trace_parent(const Message& request) {
  const auto* params = request.params();
  const auto* meta = params ? params->if_contains("_meta") : nullptr;
  if (!meta || !meta->is_object()) return std::nullopt;
  const auto* tp = meta->get_object().if_contains(kTraceparentKey);
  if (!tp || !tp->is_string()) return std::nullopt;
  return parse_traceparent(tp->get_string());
}

// Bastion's span becomes the upstream's parent (tracestate, if the client sent one, passes as is).
void pass_trace_upstream(json::object& request, const InteractionRecord& record) {
  auto& params = request["params"];
  if (!params.is_object()) params = json::object{};
  auto& meta = params.get_object()["_meta"];
  if (!meta.is_object()) meta = json::object{};
  meta.get_object()[kTraceparentKey] =
      format_traceparent(SpanContext{record.trace_id, record.span_id, record.parent_span_id, true});
}

// A 2026-only upstream answering a 2025-era client: drop the fields that era does not know, and
// turn an input-required result (which such a client cannot answer) into a clear error.
void adapt_result_for_stateful_client(json::object& response) {
  auto* result = response.if_contains("result");
  if (!result || !result->is_object()) return;
  auto& r = result->get_object();
  auto* type = r.if_contains("resultType");
  if (type && type->is_string() && type->get_string() == "input_required") {
    const json::value id = response["id"];
    response = make_error(id, code::internal_error,
                          "the upstream needs client input (input_required), which a session of "
                          "protocol 2025 cannot provide through Bastion; use protocol 2026-07-28");
    return;
  }
  r.erase("resultType");
  r.erase("ttlMs");
  r.erase("cacheScope");
}

bool is_list_method(std::string_view m) {
  return m == "tools/list" || m == "prompts/list" || m == "resources/list" ||
         m == "resources/templates/list";
}

const json::value* path(const json::object& o, std::initializer_list<std::string_view> keys) {
  const json::value* v = nullptr;
  const json::object* cur = &o;
  for (auto k : keys) {
    if (!cur) return nullptr;
    v = cur->if_contains(k);
    if (!v) return nullptr;
    cur = v->if_object();
  }
  return v;
}

}  // namespace

Router::Router(const core::Config& config,
               std::map<std::string, std::shared_ptr<upstream::Upstream>> upstreams,
               std::shared_ptr<RecordSink> records)
    : config_(config),
      upstreams_(std::move(upstreams)),
      federation_(config.federation, config.upstreams),
      records_(std::move(records)),
      tracing_(config.telemetry.has_value()) {
  for (const auto& u : config.upstreams) {
    passthrough_.emplace(u.name, Federation(core::FederationConfig{config.federation.separator,
                                                                   core::FederationConfig::Prefix::never},
                                            {u}));
  }
}

json::object Router::merged_capabilities() const {
  // The federated endpoint always serves tools and the four lists (possibly empty), so it
  // declares them; subscriptions and completions only when some upstream offers them.
  bool subscribe = false, completions = false;
  for (const auto& [name, up] : upstreams_) {
    auto info = up->server_info();
    const json::object* c = nullptr;
    if (info) {
      if (auto* v = info->if_contains("capabilities")) c = v->if_object();
    }
    if (!c) continue;
    completions = completions || c->contains("completions");
    if (auto* r = c->if_contains("resources"); r && r->is_object()) {
      if (auto* s = r->get_object().if_contains("subscribe")) subscribe = subscribe || (s->is_bool() && s->get_bool());
    }
  }
  json::object caps;
  caps["tools"] = json::object{{"listChanged", true}};
  caps["prompts"] = json::object{{"listChanged", true}};
  caps["resources"] = json::object{{"listChanged", true}, {"subscribe", subscribe}};
  if (completions) caps["completions"] = json::object{};
  caps["logging"] = json::object{};
  return caps;
}

void Router::bind_link_events(const std::shared_ptr<ClientSession>& session,
                              const std::shared_ptr<upstream::Link>& link) {
  std::weak_ptr<ClientSession> weak = session;
  std::weak_ptr<upstream::Link> weak_link = link;
  link->set_events(upstream::LinkEvents{
      [weak](json::object n) {
        if (auto s = weak.lock()) s->push_standalone(n);
      },
      [weak, weak_link](json::object request) {
        auto s = weak.lock();
        auto l = weak_link.lock();
        if (!l) return;
        if (!s || s->stateless()) {
          l->respond(make_error(request["id"], code::method_not_found, "client session is gone"));
          return;
        }
        request["id"] = s->add_outstanding(l, request["id"]);
        s->push_standalone(request);
      },
      nullptr});
}

asio::awaitable<std::shared_ptr<upstream::Link>> Router::acquire_link(
    const std::shared_ptr<ClientSession>& session, upstream::Upstream& up) {
  if (!up.per_client() || session->stateless()) {
    co_return up.per_client() ? nullptr : up.pick_shared();
  }
  if (auto link = session->dedicated(up.name()); link && link->up()) co_return link;
  auto link = up.create_dedicated();
  if (!link) co_return nullptr;
  bind_link_events(session, link);
  // The client's own initialize is replayed, so the upstream sees its real capabilities.
  if (!co_await upstream::handshake(link, up.config().start_timeout, session->initialize_params, false)) {
    co_await upstream::stop_link(link);
    co_return nullptr;
  }
  if (auto previous = session->dedicated(up.name()); previous && previous != link) {
    co_await upstream::stop_link(previous);
  }
  session->set_dedicated(up.name(), link);
  co_return link;
}

asio::awaitable<json::object> Router::initialize(std::shared_ptr<ClientSession> session, Message request) {
  const json::value id = *request.id();
  const json::object* params = request.params();
  std::string requested;
  if (params) {
    if (auto* v = params->if_contains("protocolVersion"); v && v->is_string()) requested = v->get_string();
    if (auto* c = params->if_contains("capabilities"); c && c->is_object()) session->client_capabilities = c->get_object();
    if (auto* i = params->if_contains("clientInfo"); i && i->is_object()) session->client_info = i->get_object();
    session->initialize_params = *params;
  }
  if (requested.empty()) co_return error_reply(id, code::invalid_params, "initialize needs params.protocolVersion");
  session->protocol_version = std::string(negotiate_stateful_version(requested));

  if (session->route().empty()) {
    for (auto& [name, up] : upstreams_) up->add_sink(session);
    json::object result{{"protocolVersion", session->protocol_version},
                        {"capabilities", merged_capabilities()},
                        {"serverInfo", json::object{{"name", "bastion"}, {"title", "Bastion MCP gateway"},
                                                    {"version", "0.1.0"}}}};
    std::string instructions;
    for (auto& [name, up] : upstreams_) {
      auto info = up->server_info();
      if (!info) continue;
      if (auto* ins = info->if_contains("instructions"); ins && ins->is_string() && !ins->get_string().empty()) {
        instructions += "[" + name + "] " + std::string(ins->get_string()) + "\n";
      }
    }
    if (!instructions.empty()) result["instructions"] = instructions;
    co_return make_result(id, result);
  }

  auto& up = *upstreams_.at(session->route());
  if (up.per_client()) {
    auto link = co_await acquire_link(session, up);
    if (!link || !link->server_info()) {
      co_return error_reply(id, code::upstream_unavailable, "upstream '" + up.name() + "' is unavailable");
    }
    // Full fidelity: the client gets exactly what its own upstream process answered (but a
    // 2026-only upstream has no handshake: Bastion keeps the version it negotiated).
    auto result = *link->server_info();
    if (link->stateless_only()) {
      result["protocolVersion"] = session->protocol_version;
    } else if (auto* v = result.if_contains("protocolVersion"); v && v->is_string()) {
      session->protocol_version = std::string(v->get_string());
    }
    co_return make_result(id, result);
  }
  up.add_sink(session);
  auto info = up.server_info();
  if (!info || !up.pick_shared()) {
    co_return error_reply(id, code::upstream_unavailable, "upstream '" + up.name() + "' is unavailable");
  }
  auto result = *info;
  result["protocolVersion"] = session->protocol_version;
  co_return make_result(id, result);
}

asio::awaitable<json::object> Router::forward(const std::shared_ptr<ClientSession>& session,
                                              upstream::Upstream& up, Message request,
                                              const std::shared_ptr<EventStream>& stream,
                                              InteractionRecord& record) {
  const json::value client_id = *request.id();
  // A later MRTR round goes to the replica that sealed its requestState (any other would refuse it).
  std::shared_ptr<upstream::Link> link;
  const auto* request_state = request.params() ? request.params()->if_contains("requestState") : nullptr;
  if (request_state && request_state->is_string() && !up.per_client()) {
    link = up.request_states().owner(request_state->get_string());
    if (link && !link->up()) link = nullptr;
  }
  if (!link) link = co_await acquire_link(session, up);
  if (!link) {
    record.status = "unavailable";
    if (up.per_client() && session->stateless()) {
      co_return error_reply(client_id, code::upstream_unavailable,
                            "upstream '" + up.name() + "' keeps per-client sessions; stateless "
                            "(2026-07-28) clients cannot use it");
    }
    co_return error_reply(client_id, code::upstream_unavailable,
                          "upstream '" + up.name() + "' is unavailable");
  }
  if (link->stateless_only()) {
    // 2025-era client, 2026-only upstream: the request carries what the session negotiated.
    upstream::add_stateless_meta(request.body, session->client_capabilities, session->client_info);
    if (auto level = session->log_level(); !level.empty()) {
      request.body["params"].get_object()["_meta"].get_object()["io.modelcontextprotocol/logLevel"] = level;
    }
  } else if (!link->has_discover_result()) {
    strip_stateless_meta(request.body);
  }
  const bool translate_result = link->stateless_only() && !session->stateless();
  if (!record.span_id.empty()) pass_trace_upstream(request.body, record);
  auto call = link->start_call(std::move(request.body), session.get(), session->forward_headers);
  if (!call) {
    record.status = "unavailable";
    co_return error_reply(client_id, code::upstream_unavailable,
                          "upstream '" + up.name() + "' is unavailable");
  }
  const auto key = id_key(client_id);
  session->add_in_flight(key, ClientSession::InFlight{link, call});
  struct Cleanup {
    const std::shared_ptr<ClientSession>& s;
    const std::shared_ptr<upstream::Link>& l;
    const std::shared_ptr<upstream::Call>& c;
    std::string k;
    ~Cleanup() {
      l->finish_call(c);
      s->remove_in_flight(k);
    }
  } cleanup{session, link, call, key};

  // The deadline cancels the wait on the inbox. The timer's handler runs on this coroutine's
  // executor, so it can only fire while the loop below is suspended in a receive (or between
  // one receive's completion and its resumption: hence the flag check before each receive).
  // Cheaper per call than racing the receive against the timer in a parallel group.
  asio::steady_timer timer(co_await asio::this_coro::executor, up.config().timeout);
  timer.async_wait([call](boost::system::error_code ec) {
    if (ec) return;
    call->timed_out = true;
    call->inbox.cancel();
  });
  try {
    for (;;) {
      std::tuple<boost::system::error_code, json::object> received;
      if (!call->timed_out) received = co_await call->inbox.async_receive(asio::as_tuple(asio::use_awaitable));
      auto& [ec, message] = received;
      if (call->timed_out) {
        link->cancel_call(call, "request timed out in gateway");
        record.status = "timeout";
        co_return error_reply(client_id, code::request_timeout,
                              "upstream '" + up.name() + "' did not answer within " +
                                  std::to_string(up.config().timeout.count()) + " ms");
      }
      if (ec) {  // the client cancelled: the spec says no response follows
        link->cancel_call(call, "cancelled by client");
        record.status = "error";
        record.error_message = "cancelled";
        co_return json::object{};
      }
      if (!message.contains("method")) {
        if (const auto* issued = path(message, {"result", "requestState"}); issued && issued->is_string() && !up.per_client()) {
          up.request_states().remember(issued->get_string(), link);
        }
        message["id"] = client_id;
        if (translate_result) adapt_result_for_stateful_client(message);
        co_return std::move(message);  // a structured binding is not moved implicitly
      }
      if (message.contains("id")) {
        if (session->stateless()) {
          link->respond(make_error(message["id"], code::method_not_found,
                                   "stateless (2026-07-28) clients take no server requests"));
          continue;
        }
        message["id"] = session->add_outstanding(link, message["id"]);
      } else if ((session->stateless() || !up.per_client()) && message["method"] == "notifications/message") {
        const auto* level = path(message, {"params", "level"});
        if (level && level->is_string() && !session->wants_log(level->get_string())) continue;
      }
      stream->append(json::serialize(message));
    }
  } catch (const boost::system::system_error&) {
    // Our caller was cancelled (the 2026-era client closed its stream): tell the upstream.
    link->cancel_call(call, "client disconnected");
    throw;
  }
}

asio::awaitable<json::object> Router::federated_list(const std::shared_ptr<ClientSession>&,
                                                     const Message& request, const std::string& kind) {
  // Cached catalogs are read without a coroutine per upstream; the missing ones (the first list,
  // or after list_changed) are fetched from their upstreams at the same time, not one by one.
  const auto& names = federation_.upstream_names();
  std::vector<upstream::Upstream::Catalog> catalogs(names.size());
  std::vector<std::size_t> missing;
  for (std::size_t i = 0; i < names.size(); ++i) {
    catalogs[i] = upstreams_.at(names[i])->cached_catalog(kind);
    if (!catalogs[i]) missing.push_back(i);
  }
  if (!missing.empty()) {
    auto ex = co_await asio::this_coro::executor;
    using Fetch = decltype(asio::co_spawn(ex, std::declval<asio::awaitable<upstream::Upstream::Catalog>>(),
                                          asio::deferred));
    std::vector<Fetch> fetches;
    for (auto i : missing) fetches.push_back(asio::co_spawn(ex, upstreams_.at(names[i])->catalog(kind), asio::deferred));
    auto done = co_await asio::experimental::make_parallel_group(std::move(fetches))
                    .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    auto& errors = std::get<1>(done);
    auto& fetched = std::get<2>(done);
    for (std::size_t j = 0; j < missing.size(); ++j) {
      if (errors[j]) std::rethrow_exception(errors[j]);  // cancelled: as if awaited one by one
      catalogs[missing[j]] = std::move(fetched[j]);
    }
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!catalogs[i]) spdlog::warn("[federation] {} of upstream '{}' unavailable; catalog degraded", kind, names[i]);
  }
  auto items = merged_->merge(federation_, kind, catalogs);
  co_return make_result(*request.id(), json::object{{kind, *items}});
}

asio::awaitable<json::object> Router::federated_route(const std::shared_ptr<ClientSession>& session,
                                                      Message request,
                                                      const std::shared_ptr<EventStream>& stream,
                                                      InteractionRecord& record) {
  const json::value id = *request.id();
  const auto method = std::string(request.method());
  if (method == "tools/list") co_return co_await federated_list(session, request, "tools");
  if (method == "prompts/list") co_return co_await federated_list(session, request, "prompts");
  if (method == "resources/list") co_return co_await federated_list(session, request, "resources");
  if (method == "resources/templates/list") co_return co_await federated_list(session, request, "resourceTemplates");
  if (method == "ping") co_return make_result(id, json::object{});
  if (method == "logging/setLevel") {
    auto* level = request.params() ? request.params()->if_contains("level") : nullptr;
    if (!level || !level->is_string() || log_level_rank(level->get_string()) < 0) {
      co_return error_reply(id, code::invalid_params, "unknown log level");
    }
    session->set_log_level(std::string(level->get_string()));
    co_return make_result(id, json::object{});
  }

  auto find_by_name = [&](const std::string& exposed, bool is_tool)
      -> asio::awaitable<std::optional<Federation::Target>> {
    if (auto t = federation_.resolve(exposed, is_tool)) co_return t;
    if (federation_.prefixed()) co_return std::nullopt;
    for (const auto& name : federation_.upstream_names()) {  // unprefixed: search the catalogs
      auto items = co_await upstreams_.at(name)->catalog(is_tool ? "tools" : "prompts");
      if (!items) continue;
      for (const auto& item : *items) {
        const auto* n = item.is_object() ? item.get_object().if_contains("name") : nullptr;
        if (n && n->is_string()) {
          auto visible = federation_.expose(name, std::string(n->get_string()), is_tool);
          if (visible && *visible == exposed) co_return Federation::Target{name, std::string(n->get_string())};
        }
      }
    }
    co_return std::nullopt;
  };
  auto find_by_uri = [&](const std::string& uri) -> asio::awaitable<std::string> {
    for (const auto& name : federation_.upstream_names()) {
      auto items = co_await upstreams_.at(name)->catalog("resources");
      if (!items) continue;
      for (const auto& item : *items) {
        const auto* u = item.is_object() ? item.get_object().if_contains("uri") : nullptr;
        if (u && u->is_string() && u->get_string() == uri) co_return name;
      }
    }
    for (const auto& name : federation_.upstream_names()) {
      auto items = co_await upstreams_.at(name)->catalog("resourceTemplates");
      if (!items) continue;
      for (const auto& item : *items) {
        const auto* t = item.is_object() ? item.get_object().if_contains("uriTemplate") : nullptr;
        if (!t || !t->is_string()) continue;
        std::string_view tpl = t->get_string();
        auto prefix = tpl.substr(0, tpl.find('{'));
        if (!prefix.empty() && uri.rfind(prefix, 0) == 0) co_return name;
      }
    }
    co_return federation_.upstream_names().empty() ? std::string{} : federation_.upstream_names().front();
  };

  auto* params = request.params();
  if (method == "tools/call" || method == "prompts/get") {
    const bool is_tool = method == "tools/call";
    auto* name = params ? params->if_contains("name") : nullptr;
    if (!name || !name->is_string()) co_return error_reply(id, code::invalid_params, "params.name is required");
    auto target = co_await find_by_name(std::string(name->get_string()), is_tool);
    if (!target) {
      co_return error_reply(id, code::invalid_params,
                            std::string(is_tool ? "unknown tool: " : "unknown prompt: ") +
                                std::string(name->get_string()));
    }
    (*params)["name"] = target->name;
    record.upstream = target->upstream;
    if (is_tool) record.tool = target->name;
    co_return co_await forward(session, *upstreams_.at(target->upstream), std::move(request), stream, record);
  }
  if (method == "resources/read" || method == "resources/subscribe" || method == "resources/unsubscribe") {
    auto* uri = params ? params->if_contains("uri") : nullptr;
    if (!uri || !uri->is_string()) co_return error_reply(id, code::invalid_params, "params.uri is required");
    std::string u(uri->get_string());
    auto upstream_name = co_await find_by_uri(u);
    if (upstream_name.empty()) co_return error_reply(id, code::resource_not_found, "resource not found");
    if (method == "resources/subscribe") session->subscribe(u);
    if (method == "resources/unsubscribe") session->unsubscribe(u);
    record.upstream = upstream_name;
    co_return co_await forward(session, *upstreams_.at(upstream_name), std::move(request), stream, record);
  }
  if (method == "completion/complete") {
    auto* ref = params ? params->if_contains("ref") : nullptr;
    auto* ref_obj = ref ? ref->if_object() : nullptr;
    if (!ref_obj) co_return error_reply(id, code::invalid_params, "params.ref is required");
    auto* type = ref_obj->if_contains("type");
    std::string upstream_name;
    if (type && type->is_string() && type->get_string() == "ref/prompt") {
      auto* n = ref_obj->if_contains("name");
      if (!n || !n->is_string()) co_return error_reply(id, code::invalid_params, "ref.name is required");
      auto target = co_await find_by_name(std::string(n->get_string()), false);
      if (!target) co_return error_reply(id, code::invalid_params, "unknown prompt");
      (*ref_obj)["name"] = target->name;
      upstream_name = target->upstream;
    } else {
      auto* u = ref_obj->if_contains("uri");
      if (!u || !u->is_string()) co_return error_reply(id, code::invalid_params, "ref.uri is required");
      upstream_name = co_await find_by_uri(std::string(u->get_string()));
    }
    if (upstream_name.empty()) co_return error_reply(id, code::invalid_params, "no upstream for this reference");
    record.upstream = upstream_name;
    co_return co_await forward(session, *upstreams_.at(upstream_name), std::move(request), stream, record);
  }
  co_return error_reply(id, code::method_not_found, "method not found: " + method);
}

namespace {

const json::object* find_input_schema(const json::array& tools, std::string_view name) {
  for (const auto& t : tools) {
    const auto* obj = t.if_object();
    if (!obj) continue;
    const auto* n = obj->if_contains("name");
    const auto* schema = obj->if_contains("inputSchema");
    if (n && n->is_string() && n->get_string() == name && schema && schema->is_object()) {
      return &schema->get_object();
    }
  }
  return nullptr;
}

}  // namespace

std::optional<Router::SchemaTarget> Router::schema_target(const std::string& route, const std::string& exposed) const {
  SchemaTarget out;
  if (route.empty()) {
    auto target = federation_.resolve(exposed, true);
    if (!target) return std::nullopt;
    out.name = target->name;
    out.upstream = upstreams_.find(target->upstream);
  } else {
    auto target = passthrough_.at(route).resolve(exposed, true);
    if (!target) return std::nullopt;
    out.name = target->name;
    out.upstream = upstreams_.find(route);
  }
  if (out.upstream == upstreams_.end() || out.upstream->second->per_client()) return std::nullopt;
  return out;
}

Router::CachedSchema Router::cached_tool_schema(const std::string& route, const std::string& exposed) const {
  CachedSchema out;
  auto target = schema_target(route, exposed);
  if (!target) {
    out.cached = true;  // no schema to look for
    return out;
  }
  out.catalog = target->upstream->second->cached_catalog("tools");
  if (!out.catalog) return out;
  out.cached = true;
  out.schema = find_input_schema(*out.catalog, target->name);
  return out;
}

asio::awaitable<std::optional<json::object>> Router::tool_schema(const std::string& route,
                                                               const std::string& exposed) {
  auto target = schema_target(route, exposed);
  if (!target) co_return std::nullopt;
  auto tools = co_await target->upstream->second->catalog("tools");
  if (!tools) co_return std::nullopt;
  if (const auto* schema = find_input_schema(*tools, target->name)) co_return *schema;
  co_return std::nullopt;
}

asio::awaitable<json::object> Router::discover(const std::string& route) {
  if (!route.empty()) {
    auto& up = *upstreams_.at(route);
    // Bastion answers for the versions it speaks itself; capabilities are the upstream's.
    json::object result{{"supportedVersions", supported_versions_json()}};
    std::optional<json::object> source;
    if (auto link = up.pick_shared()) source = link->discover_result();
    if (!source) source = up.server_info();
    if (source) {
      for (auto key : {"capabilities", "instructions"}) {
        if (auto* v = source->if_contains(key)) result[key] = *v;
      }
    }
    if (!result.contains("capabilities")) result["capabilities"] = json::object{};
    co_return result;
  }
  co_return json::object{{"supportedVersions", supported_versions_json()},
                         {"capabilities", merged_capabilities()}};
}

// Policies name a tool `<upstream><sep><tool>` with the agent's own tool name, whichever route
// exposes it and whatever prefixing or renaming applies there.
std::string Router::policy_tool_name(const std::string& route, std::string_view exposed) const {
  std::optional<Federation::Target> target;
  if (route.empty()) {
    target = federation_.resolve(std::string(exposed), true);
  } else if (auto it = passthrough_.find(route); it != passthrough_.end()) {
    target = it->second.resolve(std::string(exposed), true);
  }
  if (target) return target->upstream + config_.federation.separator + target->name;
  return (route.empty() ? std::string() : route + config_.federation.separator) + std::string(exposed);
}

namespace {

// tools/list answers only with what the caller may call: denied tools never leak.
void filter_visible_tools(json::object& response, const Router& router, const CallPolicy& policy,
                          const std::string& route, const RequestCaller& caller) {
  auto* result = response.if_contains("result");
  auto* tools = result && result->is_object() ? result->get_object().if_contains("tools") : nullptr;
  if (!tools || !tools->is_array()) return;
  json::array kept;
  for (auto& tool : tools->get_array()) {
    const auto* name = tool.is_object() ? tool.get_object().if_contains("name") : nullptr;
    if (name && name->is_string() && policy.tool_visible(caller, router.policy_tool_name(route, name->get_string()))) {
      kept.push_back(std::move(tool));
    }
  }
  *tools = std::move(kept);
}

}  // namespace

asio::awaitable<void> Router::run_request(std::shared_ptr<ClientSession> session, Message request,
                                          std::shared_ptr<EventStream> stream, std::size_t request_bytes,
                                          std::shared_ptr<const RequestCaller> caller) {
  auto started = std::chrono::steady_clock::now();
  if (!caller) caller = std::make_shared<const RequestCaller>();
  InteractionRecord record;
  record.method = std::string(request.method());
  record.upstream = session->route();
  record.request_bytes = request_bytes;
  record.client = caller->name;
  record.session_id = session->id();
  if (tracing_) {
    auto span = start_span(client_trace_parent(request));
    record.trace_id = std::move(span.trace_id);
    record.span_id = std::move(span.span_id);
    record.parent_span_id = std::move(span.parent_span_id);
  }
  if (record.method == "tools/call" && request.params()) {
    if (auto* a = request.params()->if_contains("arguments"); a && wants_payloads()) record.arguments = *a;
    if (auto* n = request.params()->if_contains("name"); n && n->is_string()) record.tool = n->get_string();
  }
  const json::value id = *request.id();
  json::object response;

  std::optional<PolicyDenial> denial;
  if (policy_) {
    const std::string policy_tool = record.tool.empty() ? std::string() : policy_tool_name(session->route(), record.tool);
    denial = co_await policy_->admit(*caller, record.method, policy_tool);
  }
  if (denial) {
    record.status = denial->status;
    response = error_reply(id, denial->code, denial->message);
  } else if (record.method == "server/discover") {
    response = make_result(id, co_await discover(session->route()));
  } else if (session->route().empty()) {
    response = co_await federated_route(session, std::move(request), stream, record);
  } else {
    auto& up = *upstreams_.at(session->route());
    const auto& passthrough = passthrough_.at(up.name());
    bool filter_tools = record.method == "tools/list";
    if (record.method == "tools/call") {
      auto* name = request.params() ? request.params()->if_contains("name") : nullptr;
      std::optional<Federation::Target> target;
      if (name && name->is_string()) target = passthrough.resolve(std::string(name->get_string()), true);
      if (name && name->is_string() && !target) {
        response = error_reply(id, code::invalid_params, "unknown tool: " + std::string(name->get_string()));
      } else if (target) {
        (*request.params())["name"] = target->name;
        record.tool = target->name;
      }
    } else if (record.method == "logging/setLevel") {
      auto* level = request.params() ? request.params()->if_contains("level") : nullptr;
      if (level && level->is_string()) session->set_log_level(std::string(level->get_string()));
    } else if (record.method == "resources/subscribe" || record.method == "resources/unsubscribe") {
      auto* uri = request.params() ? request.params()->if_contains("uri") : nullptr;
      if (uri && uri->is_string()) {
        if (record.method == "resources/subscribe") session->subscribe(std::string(uri->get_string()));
        else session->unsubscribe(std::string(uri->get_string()));
      }
    }
    // A 2026-only upstream has no ping, logging/setLevel or subscribe: Bastion answers those
    // 2025-era methods itself (the level travels as io.modelcontextprotocol/logLevel).
    const bool stateless_upstream = up.speaks_version(stateless_version);
    if (response.empty() && stateless_upstream && !session->stateless() &&
        (record.method == "ping" || record.method == "logging/setLevel" ||
         record.method == "resources/subscribe" || record.method == "resources/unsubscribe")) {
      response = make_result(id, json::object{});
    }
    if (response.empty()) response = co_await forward(session, up, std::move(request), stream, record);
    if (filter_tools) {
      if (auto* tools = response.contains("result") ? path(response, {"result", "tools"}) : nullptr;
          tools && tools->is_array()) {
        response["result"].get_object()["tools"] = passthrough.expose_list(up.name(), tools->get_array(), true);
      }
    }
  }

  if (policy_ && !denial && record.method == "tools/list") {
    filter_visible_tools(response, *this, *policy_, session->route(), *caller);
  }
  std::optional<std::string> reply;
  if (!response.empty()) {
    if (auto* result = response.if_contains("result"); result && result->is_object()) {
      auto& r = result->get_object();
      if (session->stateless()) {
        // 2026-07-28: every result says what it is; catalogs and reads carry caching hints;
        // the server names itself in _meta.
        if (!r.contains("resultType")) r["resultType"] = "complete";
        if (r["resultType"] == "complete" &&
            (is_list_method(record.method) || record.method == "resources/read" ||
             record.method == "server/discover")) {
          if (!r.contains("ttlMs")) r["ttlMs"] = record.method == "resources/read" ? 0 : 30'000;
          if (!r.contains("cacheScope")) r["cacheScope"] = "private";
        }
        auto& meta = r["_meta"];
        if (!meta.is_object()) meta = json::object{};
        if (!meta.get_object().contains("io.modelcontextprotocol/serverInfo")) {
          meta.get_object()["io.modelcontextprotocol/serverInfo"] =
              json::object{{"name", "bastion"}, {"version", "0.1.0"}};
        }
      }
      if (auto* meta = r.if_contains("_meta")) record.result_meta = *meta;
      if (record.status.empty()) {
        auto* is_error = r.if_contains("isError");
        record.status = (is_error && is_error->is_bool() && is_error->get_bool()) ? "error" : "ok";
        if (record.status == "error" && record.error_message.empty()) {
          // A tool error (isError) explains itself in its first text content.
          if (const auto* content = r.if_contains("content"); content && content->is_array()) {
            for (const auto& c : content->get_array()) {
              const auto* text = c.is_object() ? c.get_object().if_contains("text") : nullptr;
              if (text && text->is_string()) {
                record.error_message = std::string(text->get_string().subview(0, std::min<std::size_t>(text->get_string().size(), 500)));
                break;
              }
            }
          }
        }
      }
    } else if (auto* err = response.if_contains("error"); err && err->is_object()) {
      if (record.status.empty()) record.status = "error";
      if (auto* c = err->get_object().if_contains("code"); c && c->is_int64()) record.error_code = static_cast<int>(c->get_int64());
      if (auto* m = err->get_object().if_contains("message"); m && m->is_string()) record.error_message = m->get_string();
    }
    reply = json::serialize(response);
    record.response_bytes = reply->size();
    if (wants_payloads()) {  // serialised already: the record takes the result, not a copy
      if (auto* result = response.if_contains("result")) record.result = std::move(*result);
      else if (auto* error = response.if_contains("error")) record.result = std::move(*error);
    }
  }
  record.timed_out = record.status == "timeout";
  record.latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  // The record first: with durable recording the client hears back only once its row is safe.
  if (records_ && records_->holds_replies()) {
    co_await records_->commit(std::move(record));
  } else if (records_) {
    records_->record(std::move(record));
  }
  if (reply) stream->append(std::move(*reply));
  stream->end();
  session->forget_finished_streams();
}

void Router::handle_notification(const std::shared_ptr<ClientSession>& session, const Message& message) {
  auto method = message.method();
  if (method == "notifications/initialized") {
    // Dedicated upstreams got notifications/initialized when Bastion replayed the handshake.
    session->initialized = true;
    return;
  }
  if (method == "notifications/cancelled") {
    const auto* rid = message.params() ? message.params()->if_contains("requestId") : nullptr;
    if (!rid) return;
    if (auto f = session->find_in_flight(id_key(*rid))) {
      f->link->cancel_call(f->call, "cancelled by client");
      f->call->inbox.close();
    }
    return;
  }
  // Other client notifications (roots/list_changed, progress of client-side work) go to the
  // session's dedicated upstreams; shared upstreams must not see one client's roots.
  for (auto& [name, link] : session->dedicated_links()) link->notify(message.body);
}

void Router::handle_response(const std::shared_ptr<ClientSession>& session, const Message& message) {
  const auto* id = message.id();
  if (!id || !id->is_string()) return;
  auto outstanding = session->take_outstanding(std::string(id->get_string()));
  if (!outstanding) return;
  auto link = outstanding->link.lock();
  if (!link) return;
  json::object reply = message.body;
  reply["id"] = outstanding->upstream_id;
  link->respond(reply);
}

asio::awaitable<void> Router::close_session(std::shared_ptr<ClientSession> session) {
  for (auto& [name, link] : session->take_dedicated()) co_await upstream::stop_link(link);
  if (auto standalone = session->standalone_stream()) standalone->end();
}

}  // namespace bastion::mcp
