#include "mcp/server/streamable_http.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "mcp/http_headers.hpp"
#include "mcp/protocol.hpp"

namespace bastion::mcp {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr int bad_request_code = -32000;     // transport-level rejection (SDK convention)
constexpr int session_missing_code = -32001;  // "Session not found" (SDK convention)
constexpr int missing_capability = -32021;

std::optional<std::string_view> header(const net::Request& req, std::string_view name) {
  auto it = req.find(name);
  if (it == req.end()) return std::nullopt;
  return std::string_view(it->value().data(), it->value().size());
}

net::Response json_response(http::status status, const json::value& body) {
  net::Response res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() = json::serialize(body);
  return res;
}

asio::awaitable<void> reply_error(net::ResponseWriter& writer, http::status status, const json::value& id,
                                  int code, std::string_view message, const json::value* data = nullptr) {
  co_await writer.send(json_response(status, make_error(id, code, message, data)));
}

asio::awaitable<void> reply_empty(net::ResponseWriter& writer, http::status status) {
  net::Response res{status, 11};
  res.set(http::field::cache_control, "no-store");
  co_await writer.send(std::move(res));
}

// 2026 errors carry their meaning in the HTTP status too.
http::status stateless_status_for(const json::object& response) {
  const auto* err = response.if_contains("error");
  if (!err || !err->is_object()) return http::status::ok;
  const auto* c = err->get_object().if_contains("code");
  if (!c || !c->is_int64()) return http::status::ok;
  switch (c->get_int64()) {
    case code::method_not_found: return http::status::not_found;
    case code::header_mismatch:
    case missing_capability:
    case code::unsupported_version: return http::status::bad_request;
    default: return http::status::ok;
  }
}

bool is_removed_in_2026(std::string_view method) {
  return method == "initialize" || method == "ping" || method == "logging/setLevel" ||
         method == "resources/subscribe" || method == "resources/unsubscribe";
}

// Receives upstream notifications for one subscriptions/listen stream, filtered as asked.
class ListenSink final : public upstream::NotificationSink {
 public:
  ListenSink(json::value id, json::object filter, std::shared_ptr<EventStream> stream)
      : id_(std::move(id)), filter_(std::move(filter)), stream_(std::move(stream)) {}

  void upstream_notification(const std::string&, const json::object& notification) override {
    auto method = notification.at("method").get_string();
    bool wanted = (method == "notifications/tools/list_changed" && flag("toolsListChanged")) ||
                  (method == "notifications/prompts/list_changed" && flag("promptsListChanged")) ||
                  (method == "notifications/resources/list_changed" && flag("resourcesListChanged"));
    if (method == "notifications/resources/updated") {
      const auto* params = notification.if_contains("params");
      const auto* uri = params && params->is_object() ? params->get_object().if_contains("uri") : nullptr;
      const auto* subs = filter_.if_contains("resourceSubscriptions");
      if (uri && subs && subs->is_array()) {
        for (const auto& s : subs->get_array()) wanted = wanted || s == *uri;
      }
    }
    if (!wanted) return;
    json::object copy = notification;
    tag(copy);
    stream_->append(json::serialize(copy));
  }

  void tag(json::object& message) const {
    auto& params = message["params"];
    if (!params.is_object()) params = json::object{};
    auto& meta = params.get_object()["_meta"];
    if (!meta.is_object()) meta = json::object{};
    meta.get_object()["io.modelcontextprotocol/subscriptionId"] = id_;
  }

 private:
  bool flag(std::string_view key) const {
    const auto* v = filter_.if_contains(key);
    return v && v->is_bool() && v->get_bool();
  }
  json::value id_;
  json::object filter_;
  std::shared_ptr<EventStream> stream_;
};

// The frame owns the router, so a configuration reload cannot pull it from under the call.
asio::awaitable<void> run_detached(std::shared_ptr<Router> router, std::shared_ptr<ClientSession> session,
                                   Message request, std::shared_ptr<EventStream> stream, std::size_t bytes,
                                   std::shared_ptr<const RequestCaller> caller) {
  co_await router->run_request(std::move(session), std::move(request), std::move(stream), bytes, std::move(caller));
}

}  // namespace

StreamableHttpEndpoint::StreamableHttpEndpoint(const core::Config& config, std::shared_ptr<Router> router)
    : config_(config), router_(std::move(router)) {}

std::shared_ptr<Router> StreamableHttpEndpoint::current_router() const {
  std::lock_guard lock(mutex_);
  return router_;
}

void StreamableHttpEndpoint::replace_router(std::shared_ptr<Router> router) {
  std::lock_guard lock(mutex_);
  router_ = std::move(router);
}

std::size_t StreamableHttpEndpoint::session_count() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

std::shared_ptr<ClientSession> StreamableHttpEndpoint::find_session(std::string_view id, const std::string& route,
                                                                    const RequestCaller& caller) const {
  if (!ids_.verify(id)) return nullptr;  // forged or from another Bastion: no lookup needed
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(std::string(id));
  if (it == sessions_.end() || it->second->route() != route) return nullptr;
  // A session belongs to whoever opened it: another caller presenting its id (a leaked or
  // fixated id) is told it does not exist.
  if (it->second->owner != (caller.authenticated ? caller.name : std::string())) return nullptr;
  return it->second;
}

asio::awaitable<void> StreamableHttpEndpoint::handle(net::Request& request, net::ResponseWriter& writer,
                                                     const std::string& route,
                                                     std::shared_ptr<const RequestCaller> caller) {
  ++counters_.requests;
  if (!caller) caller = std::make_shared<const RequestCaller>();
  switch (request.method()) {
    case http::verb::post: co_await handle_post(request, writer, route, caller); break;
    case http::verb::get: co_await handle_get(request, writer, route, *caller); break;
    case http::verb::delete_: co_await handle_delete(request, writer, route, *caller); break;
    default: {
      auto res = json_response(http::status::method_not_allowed,
                               make_error(nullptr, bad_request_code, "Method not allowed"));
      res.set(http::field::allow, "GET, POST, DELETE");
      co_await writer.send(std::move(res));
    }
  }
}

asio::awaitable<void> StreamableHttpEndpoint::reply_from_stream(net::Request& request,
                                                                net::ResponseWriter& writer,
                                                                std::shared_ptr<ClientSession> session,
                                                                std::shared_ptr<EventStream> stream,
                                                                std::uint64_t after, bool allow_json) {
  auto ex = co_await asio::this_coro::executor;
  auto signal = std::make_shared<EventStream::Signal>(ex, 1);
  stream->attach(signal);
  struct Detach {
    std::shared_ptr<EventStream> s;
    std::shared_ptr<EventStream::Signal> sig;
    ~Detach() { s->detach(sig); }
  } detach{stream, signal};

  std::uint64_t cursor = after;
  const bool stateless = session->stateless();
  if (allow_json) {
    // Wait for the first thing to say: a lone response goes out as plain JSON.
    for (;;) {
      bool done = stream->ended();
      bool gap = false;
      auto events = stream->since(cursor, gap);
      if (done && events.size() == 1) {
        // Forward the serialized response as it is; parse it only when a 2026 error needs an
        // HTTP status of its own.
        auto status = http::status::ok;
        if (stateless && events.front().data.find("\"error\"") != std::string::npos) {
          boost::system::error_code ec;
          auto body = json::parse(events.front().data, ec);
          if (!ec && body.is_object()) status = stateless_status_for(body.as_object());
        }
        net::Response res{status, 11};
        res.set(http::field::content_type, "application/json");
        res.set(http::field::cache_control, "no-store");
        res.body() = std::move(events.front().data);
        if (!session->stateless()) res.set("Mcp-Session-Id", session->id());
        stream->mark_delivered(events.front().seq);
        co_await writer.send(std::move(res));
        co_return;
      }
      if (done && events.empty()) {  // cancelled: nothing to say
        co_await reply_empty(writer, http::status::accepted);
        co_return;
      }
      if (!events.empty()) break;
      auto [ec] = co_await signal->async_receive(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
    }
  }

  http::response<http::empty_body> head{http::status::ok, request.version()};
  head.set(http::field::content_type, "text/event-stream");
  head.set(http::field::cache_control, "no-cache, no-transform");
  head.set("X-Accel-Buffering", "no");
  if (!stateless) head.set("Mcp-Session-Id", session->id());
  if (!co_await writer.start_stream(std::move(head))) co_return;
  ++counters_.sse_streams;
  // Priming event (2025-11-25): an id with empty data, so the client can resume this stream.
  if (!stateless && session->protocol_version >= "2025-11-25" && after == 0 && stream->number() != 0) {
    std::string prime = "id: " + stream->event_id(0) + "\nretry: 3000\ndata: \n\n";
    if (!co_await writer.write_chunk(prime)) co_return;
  }
  asio::steady_timer keepalive(ex);
  for (;;) {
    bool done = stream->ended();
    bool gap = false;
    auto events = stream->since(cursor, gap);
    std::string chunk;
    for (const auto& e : events) {
      if (!stateless) chunk += "id: " + stream->event_id(e.seq) + "\n";
      chunk += "data: ";
      chunk += e.data;
      chunk += "\n\n";
      cursor = e.seq;
    }
    if (!chunk.empty()) {
      if (!co_await writer.write_chunk(chunk)) co_return;
      stream->mark_delivered(cursor);
    }
    if (done) {
      co_await writer.finish_stream();
      co_return;
    }
    keepalive.expires_after(config_.limits.sse_keepalive);
    auto winner = co_await (signal->async_receive(asio::as_tuple(asio::use_awaitable)) ||
                            keepalive.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (winner.index() == 0) {
      auto [ec] = std::get<0>(winner);
      if (ec) {  // another consumer took the stream over
        co_await writer.finish_stream();
        co_return;
      }
    } else if (!co_await writer.write_chunk(": keepalive\n\n")) {
      co_return;
    }
  }
}

asio::awaitable<void> StreamableHttpEndpoint::handle_post(net::Request& request, net::ResponseWriter& writer,
                                                          const std::string& route,
                                                          std::shared_ptr<const RequestCaller> caller) {
  // One router for the whole request, even if a reload swaps it meanwhile.
  const auto router = current_router();
  auto content_type = header(request, "Content-Type");
  if (!content_type || content_type->find("application/json") == std::string_view::npos) {
    ++counters_.rejected;
    co_await reply_error(writer, http::status::unsupported_media_type, nullptr, bad_request_code,
                         "Unsupported Media Type: Content-Type must be application/json");
    co_return;
  }
  auto parsed = parse_body(request.body(), ParseLimits{config_.limits.max_json_depth});
  if (parsed.failure) {
    ++counters_.rejected;
    co_await reply_error(writer, http::status::bad_request, parsed.failure->id, parsed.failure->code,
                         parsed.failure->message);
    co_return;
  }
  auto& body = *parsed.body;
  auto version_header = header(request, "MCP-Protocol-Version");
  if (!body.batch) {
    bool modern = meta_protocol_version(body.messages.front()).has_value() ||
                  (version_header && !is_stateful_version(*version_header));
    if (modern) {
      co_await handle_stateless(request, writer, route, std::move(body.messages.front()), caller);
      co_return;
    }
  }
  auto accept = header(request, "Accept").value_or("");
  if (!accepts(accept, "application/json") || !accepts(accept, "text/event-stream")) {
    ++counters_.rejected;
    co_await reply_error(writer, http::status::not_acceptable, nullptr, bad_request_code,
                         "Not Acceptable: Client must accept both application/json and text/event-stream");
    co_return;
  }

  const bool has_initialize = std::any_of(body.messages.begin(), body.messages.end(), [](const Message& m) {
    return m.kind == MessageKind::request && m.method() == "initialize";
  });
  if (has_initialize) {
    if (body.batch) {
      ++counters_.rejected;
      co_await reply_error(writer, http::status::bad_request, nullptr, code::invalid_request,
                           "Invalid Request: initialize must not be part of a batch");
      co_return;
    }
    if (session_count() >= config_.limits.max_sessions) {
      ++counters_.rejected;
      auto res = json_response(http::status::service_unavailable,
                               make_error(*body.messages.front().id(), bad_request_code,
                                          "Too many sessions; try again later"));
      res.set(http::field::retry_after, "5");
      co_await writer.send(std::move(res));
      co_return;
    }
    auto session = std::make_shared<ClientSession>(ids_.mint(), route, config_.limits.sse_replay_events);
    if (caller->authenticated) session->owner = caller->name;
    auto response = co_await router->initialize(session, std::move(body.messages.front()));
    auto res = json_response(http::status::ok, response);
    if (response.contains("result")) {
      {
        std::lock_guard lock(mutex_);
        sessions_[session->id()] = session;
      }
      ++counters_.sessions_created;
      res.set("Mcp-Session-Id", session->id());
    } else {
      co_await router->close_session(session);
    }
    co_await writer.send(std::move(res));
    co_return;
  }

  auto session_header = header(request, "Mcp-Session-Id");
  if (!session_header) {
    ++counters_.rejected;
    co_await reply_error(writer, http::status::bad_request, nullptr, bad_request_code,
                         "Bad Request: Mcp-Session-Id header is required");
    co_return;
  }
  auto session = find_session(*session_header, route, *caller);
  if (!session) {
    ++counters_.rejected;
    co_await reply_error(writer, http::status::not_found, nullptr, session_missing_code, "Session not found");
    co_return;
  }
  if (version_header && !is_supported_version(*version_header)) {
    ++counters_.rejected;
    co_await reply_error(writer, http::status::bad_request, nullptr, bad_request_code,
                         "Bad Request: Unsupported protocol version: " + std::string(*version_header));
    co_return;
  }
  // A session speaks the version it negotiated; another one mid-session (a downgrade to older
  // rules, or an upgrade the session never agreed to) is refused, not mixed.
  if (version_header && *version_header != session->protocol_version) {
    ++counters_.rejected;
    co_await reply_error(writer, http::status::bad_request, nullptr, bad_request_code,
                         "Bad Request: MCP-Protocol-Version " + std::string(*version_header) +
                             " differs from the version negotiated for this session (" + session->protocol_version + ")");
    co_return;
  }
  if (body.batch && session->protocol_version != "2025-03-26") {
    ++counters_.rejected;
    co_await reply_error(writer, http::status::bad_request, nullptr, code::invalid_request,
                         "Invalid Request: batches are only allowed with protocol version 2025-03-26");
    co_return;
  }
  session->touch();

  std::vector<Message> requests;
  for (auto& m : body.messages) {
    if (m.kind == MessageKind::request) requests.push_back(std::move(m));
    else if (m.kind == MessageKind::notification) router->handle_notification(session, m);
    else router->handle_response(session, m);
  }
  if (requests.empty()) {
    co_await reply_empty(writer, http::status::accepted);
    co_return;
  }
  if (!body.batch) {
    auto stream = session->new_stream();
    // The call belongs to the session, not to this connection: a client that drops the
    // connection can resume the stream with Last-Event-ID (2025 disconnects are not cancels).
    // (No co_await inside the co_spawn expression: GCC 12 mishandles temporaries there.)
    const auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(ex, run_detached(router, session, std::move(requests.front()), stream, request.body().size(), caller),
                   asio::detached);
    co_await reply_from_stream(request, writer, session, stream, 0, true);
    co_return;
  }
  json::array responses;  // 2025-03-26 batch: answered as one JSON array
  for (auto& r : requests) {
    auto stream = std::make_shared<EventStream>(0, 1 << 16);
    co_await router->run_request(session, std::move(r), stream, 0, caller);
    bool gap = false;
    auto events = stream->since(0, gap);
    for (auto& e : events) {
      auto v = json::parse(e.data);
      if (v.is_object() && !v.as_object().contains("method")) responses.push_back(std::move(v));
    }
  }
  auto res = json_response(http::status::ok, responses);
  res.set("Mcp-Session-Id", session->id());
  co_await writer.send(std::move(res));
}

asio::awaitable<void> StreamableHttpEndpoint::handle_stateless(net::Request& request,
                                                               net::ResponseWriter& writer,
                                                               const std::string& route, Message message,
                                                               std::shared_ptr<const RequestCaller> caller) {
  // One router for the whole request, even if a reload swaps it meanwhile.
  const auto router = current_router();
  const json::value id = message.id() ? *message.id() : json::value(nullptr);
  auto fail = [&](http::status status, int c, std::string_view text,
                  const json::value* data = nullptr) -> asio::awaitable<void> {
    ++counters_.rejected;
    co_await reply_error(writer, status, id, c, text, data);
  };
  // Validation in the order the 2026-07-28 transport gives (see docs/protocol.md).
  auto version_header = header(request, "MCP-Protocol-Version");
  if (!version_header) {
    co_await fail(http::status::bad_request, code::header_mismatch,
                  "Header mismatch: MCP-Protocol-Version header is required");
    co_return;
  }
  const json::object* meta = nullptr;
  if (auto* p = message.params()) {
    if (auto* m = p->if_contains("_meta")) meta = m->if_object();
  }
  const json::value* meta_version = meta ? meta->if_contains(meta::protocol_version) : nullptr;
  const json::value* meta_caps = meta ? meta->if_contains(meta::client_capabilities) : nullptr;
  if (!meta || !meta_version || !meta_version->is_string()) {
    co_await fail(http::status::bad_request, code::invalid_params,
                  "Invalid params: _meta[\"io.modelcontextprotocol/protocolVersion\"] is required");
    co_return;
  }
  if (!meta_caps || !meta_caps->is_object()) {
    co_await fail(http::status::bad_request, code::invalid_params,
                  "Invalid params: _meta[\"io.modelcontextprotocol/clientCapabilities\"] is required");
    co_return;
  }
  std::string_view requested = meta_version->get_string();
  if (*version_header != requested) {
    co_await fail(http::status::bad_request, code::header_mismatch,
                  "Header mismatch: MCP-Protocol-Version header value '" + std::string(*version_header) +
                      "' does not match body value '" + std::string(requested) + "'");
    co_return;
  }
  if (requested != stateless_version) {
    json::value data = json::object{{"supported", supported_versions_json()}, {"requested", requested}};
    co_await fail(http::status::bad_request, code::unsupported_version, "Unsupported protocol version", &data);
    co_return;
  }
  if (message.kind == MessageKind::notification) {
    co_await reply_empty(writer, http::status::accepted);
    co_return;
  }
  if (message.kind == MessageKind::response) {
    co_await fail(http::status::bad_request, code::invalid_request,
                  "Invalid Request: clients do not send responses in protocol version 2026-07-28");
    co_return;
  }
  auto check = check_method_headers(message, header(request, "Mcp-Method"), header(request, "Mcp-Name"));
  if (!check.ok) {
    co_await fail(http::status::bad_request, code::header_mismatch, check.message);
    co_return;
  }
  // Mcp-Param-* headers: checked against the tool's schema (SEP-2243), then forwarded upstream.
  ParamHeaders params;
  upstream::ForwardHeaders forward;
  for (const auto& field : request) {
    std::string_view name(field.name_string().data(), field.name_string().size());
    if (name.size() > 10 && boost::beast::iequals(name.substr(0, 10), "Mcp-Param-")) {
      std::string suffix(name.substr(10));
      std::transform(suffix.begin(), suffix.end(), suffix.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      std::string value(field.value().data(), field.value().size());
      params.emplace_back(suffix, value);
      forward.emplace_back(std::string(name), value);
    }
  }
  if (message.method() == "tools/call") {
    auto target = target_name(message);
    if (target) {
      const std::string exposed(*target);
      auto cached = router->cached_tool_schema(route, exposed);
      std::optional<json::object> fetched;  // only when the catalog is not cached yet
      if (!cached.cached) fetched = co_await router->tool_schema(route, exposed);
      const json::object* schema = fetched ? &*fetched : cached.schema;
      if (schema) {
        const json::object* arguments = nullptr;
        if (auto* a = message.params()->if_contains("arguments")) arguments = a->if_object();
        auto param_check = check_param_headers(*schema, arguments, params);
        if (!param_check.ok) {
          co_await fail(http::status::bad_request, code::header_mismatch, param_check.message);
          co_return;
        }
      }
    }
  }
  if (is_removed_in_2026(message.method())) {
    co_await fail(http::status::not_found, code::method_not_found,
                  "Method not found: " + std::string(message.method()) + " does not exist in 2026-07-28");
    co_return;
  }
  if (message.method() == "subscriptions/listen") {
    co_await subscriptions_listen(request, writer, route, std::move(message));
    co_return;
  }
  auto session = std::make_shared<ClientSession>("", route, 1 << 16);
  session->forward_headers = std::move(forward);
  session->protocol_version = std::string(stateless_version);
  session->client_capabilities = meta_caps->get_object();
  if (auto* info = meta->if_contains(meta::client_info); info && info->is_object()) {
    session->client_info = info->get_object();
  }
  if (auto* level = meta->if_contains("io.modelcontextprotocol/logLevel"); level && level->is_string()) {
    session->set_log_level(std::string(level->get_string()));
  } else {
    session->suppress_logs();
  }
  auto stream = std::make_shared<EventStream>(1, 1 << 16);
  // The call runs in a coroutine of its own so that its messages stream while it runs. Tied to
  // this reply: if the client closes the stream, this handler is cancelled and with it the
  // upstream call (2026 semantics: closing is cancelling). One cancellation signal does that
  // for less than racing both in a parallel group (two more coroutine frames per call).
  struct Tie {
    asio::cancellation_signal signal;
    bool finished = false;
  };
  auto tie = std::make_shared<Tie>();
  // (No co_await inside the co_spawn expression: GCC 12 mishandles temporaries there.)
  const auto ex = co_await asio::this_coro::executor;
  auto on_finished = asio::bind_cancellation_slot(tie->signal.slot(), [tie](std::exception_ptr) { tie->finished = true; });
  asio::co_spawn(ex, run_detached(router, session, std::move(message), stream, request.body().size(), caller),
                 std::move(on_finished));
  std::exception_ptr failure;
  try {
    co_await reply_from_stream(request, writer, session, stream, 0, true);
  } catch (...) {
    failure = std::current_exception();
  }
  // Cancelled (the client left) or failed: the call goes too. A reply sent in full leaves it to
  // finish its bookkeeping (recording) on its own.
  const auto cs = co_await asio::this_coro::cancellation_state;
  if ((failure || cs.cancelled() != asio::cancellation_type::none) && !tie->finished) {
    tie->signal.emit(asio::cancellation_type::terminal);
  }
  if (failure) std::rethrow_exception(failure);
}

asio::awaitable<void> StreamableHttpEndpoint::subscriptions_listen(net::Request& request,
                                                                   net::ResponseWriter& writer,
                                                                   const std::string& route, Message message) {
  // One router for the whole request, even if a reload swaps it meanwhile.
  const auto router = current_router();
  const json::value id = *message.id();
  const auto* params = message.params();
  const auto* filter = params ? params->if_contains("notifications") : nullptr;
  if (!filter || !filter->is_object()) {
    ++counters_.rejected;
    co_await reply_error(writer, http::status::bad_request, id, code::invalid_params,
                         "Invalid params: params.notifications is required");
    co_return;
  }
  // Echo only what Bastion honours.
  json::object honoured;
  for (auto key : {"toolsListChanged", "promptsListChanged", "resourcesListChanged"}) {
    if (auto* v = filter->get_object().if_contains(key); v && v->is_bool() && v->get_bool()) honoured[key] = true;
  }
  if (auto* v = filter->get_object().if_contains("resourceSubscriptions"); v && v->is_array()) {
    json::array uris;
    for (const auto& u : v->get_array()) {
      if (u.is_string()) uris.push_back(u);
    }
    honoured["resourceSubscriptions"] = uris;
  }
  auto session = std::make_shared<ClientSession>("", route, 64);
  auto stream = std::make_shared<EventStream>(1, 1024);
  auto sink = std::make_shared<ListenSink>(id, honoured, stream);
  json::object ack{{"jsonrpc", "2.0"},
                   {"method", "notifications/subscriptions/acknowledged"},
                   {"params", json::object{{"notifications", honoured}}}};
  sink->tag(ack);
  stream->append(json::serialize(ack));
  for (const auto& [name, up] : router->upstreams()) {
    if (route.empty() || route == name) up->add_sink(sink);
  }
  co_await reply_from_stream(request, writer, session, stream, 0, false);
}

asio::awaitable<void> StreamableHttpEndpoint::handle_get(net::Request& request, net::ResponseWriter& writer,
                                                         const std::string& route, const RequestCaller& caller) {
  auto session_header = header(request, "Mcp-Session-Id");
  if (!session_header) {
    auto res = json_response(http::status::method_not_allowed,
                             make_error(nullptr, bad_request_code,
                                        "Method not allowed: GET needs an Mcp-Session-Id (2025 era); "
                                        "2026-07-28 has no GET stream"));
    res.set(http::field::allow, "POST");
    co_await writer.send(std::move(res));
    co_return;
  }
  if (!accepts(header(request, "Accept").value_or(""), "text/event-stream")) {
    ++counters_.rejected;
    co_await reply_error(writer, http::status::not_acceptable, nullptr, bad_request_code,
                         "Not Acceptable: Client must accept text/event-stream");
    co_return;
  }
  auto session = find_session(*session_header, route, caller);
  if (!session) {
    co_await reply_error(writer, http::status::not_found, nullptr, session_missing_code, "Session not found");
    co_return;
  }
  session->touch();
  std::shared_ptr<EventStream> stream = session->standalone_stream();
  std::uint64_t after = stream->delivered();
  if (auto last = header(request, "Last-Event-ID")) {
    auto parsed = EventStream::parse_event_id(*last);
    auto resumed = parsed ? session->find_stream(parsed->first) : nullptr;
    if (!resumed) {
      co_await reply_error(writer, http::status::not_found, nullptr, bad_request_code,
                           "Unknown Last-Event-ID: the stream is gone or never existed");
      co_return;
    }
    stream = resumed;
    after = parsed->second;
  }
  co_await reply_from_stream(request, writer, session, stream, after, false);
}

asio::awaitable<void> StreamableHttpEndpoint::handle_delete(net::Request& request, net::ResponseWriter& writer,
                                                            const std::string& route, const RequestCaller& caller) {
  // One router for the whole request, even if a reload swaps it meanwhile.
  const auto router = current_router();
  auto session_header = header(request, "Mcp-Session-Id");
  if (!session_header) {
    auto res = json_response(http::status::method_not_allowed,
                             make_error(nullptr, bad_request_code, "Method not allowed without a session"));
    res.set(http::field::allow, "POST");
    co_await writer.send(std::move(res));
    co_return;
  }
  auto session = find_session(*session_header, route, caller);
  if (!session) {
    co_await reply_error(writer, http::status::not_found, nullptr, session_missing_code, "Session not found");
    co_return;
  }
  {
    std::lock_guard lock(mutex_);
    sessions_.erase(session->id());
  }
  ++counters_.sessions_deleted;
  co_await router->close_session(session);
  co_await reply_empty(writer, http::status::ok);
}

asio::awaitable<void> StreamableHttpEndpoint::expire_idle_sessions() {
  // One router for the whole request, even if a reload swaps it meanwhile.
  const auto router = current_router();
  std::vector<std::shared_ptr<ClientSession>> expired;
  auto cutoff = std::chrono::steady_clock::now() - config_.limits.session_idle_timeout;
  {
    std::lock_guard lock(mutex_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (it->second->last_used() < cutoff) {
        expired.push_back(it->second);
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& s : expired) {
    ++counters_.sessions_expired;
    co_await router->close_session(s);
  }
}

asio::awaitable<void> StreamableHttpEndpoint::close_all_sessions() {
  // One router for the whole request, even if a reload swaps it meanwhile.
  const auto router = current_router();
  std::unordered_map<std::string, std::shared_ptr<ClientSession>> all;
  {
    std::lock_guard lock(mutex_);
    all.swap(sessions_);
  }
  for (auto& [id, s] : all) co_await router->close_session(s);
}

}  // namespace bastion::mcp
