// Raw bytes on the public listener, without sockets: Beast's request parser with the server's
// limits, then the public request path serve() uses (guards, security headers, the MCP endpoint
// and router) against an in-process upstream that answers at once. Up to kMaxRequests pipelined
// requests share one gateway state, so sessions opened by an initialize can be used later:
// `@sid` in an Mcp-Session-Id header becomes the last session id issued, `@eid` in Last-Event-ID
// the last SSE event id seen, `@token`/`@limited` in Authorization the two configured tokens.
//
// Invariants (abort on violation): a handler answers once (one response, or one stream that
// finishes unless the client went away); statuses are from the expected set; every reply carries
// the security headers; JSON replies and SSE data lines are valid JSON; every handler ends once
// the client has gone away. FUZZ_HTTP_TRACE=1 prints each request and its status (for seeds).
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "app/public_pipeline.hpp"
#include "app/security_setup.hpp"
#include "core/config.hpp"
#include "guard/auth/token_store.hpp"
#include "net/server/request_framing.hpp"
#include "upstream/link.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using namespace bastion;

constexpr int kMaxRequests = 8;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_http_request invariant violated: %s\n", what);
  std::abort();
}

// An MCP server in this process: answers initialize, lists and tools/call (an echo of the
// arguments, after a progress notification when the caller asked for progress) on the next turn
// of the io_context, as a real transport would.
class EchoLink final : public upstream::Link {
 public:
  EchoLink(asio::any_io_executor ex, std::string name) : Link(std::move(ex), std::move(name)) { mark_up(); }

 protected:
  bool transmit(json::object message, const upstream::ForwardHeaders&) override {
    const auto* method = message.if_contains("method");
    const auto* id = message.if_contains("id");
    if (!method || !method->is_string() || !id) return true;  // a notification or a response
    json::object reply{{"jsonrpc", "2.0"}, {"id", *id}};
    std::optional<json::object> progress;
    const std::string_view m = method->get_string();
    const auto* params = message.if_contains("params");
    if (m == "initialize") {
      reply["result"] = json::object{{"protocolVersion", "2025-11-25"},
                                     {"capabilities", json::object{{"tools", json::object{}}}},
                                     {"serverInfo", json::object{{"name", "echo"}, {"version", "1"}}}};
    } else if (m == "tools/list") {
      json::object schema{{"type", "object"},
                          {"properties", json::object{{"text", json::object{{"type", "string"}}}}}};
      reply["result"] = json::object{
          {"tools", json::array{json::object{{"name", "echo"}, {"description", "echo"}, {"inputSchema", schema}}}}};
    } else if (m == "prompts/list" || m == "resources/list" || m == "resources/templates/list") {
      const char* key = m == "prompts/list" ? "prompts" : m == "resources/list" ? "resources" : "resourceTemplates";
      reply["result"] = json::object{{key, json::array{}}};
    } else if (m == "ping") {
      reply["result"] = json::object{};
    } else if (m == "tools/call") {
      json::value args;
      if (params && params->is_object()) {
        if (const auto* a = params->get_object().if_contains("arguments")) args = *a;
        const auto* meta = params->get_object().if_contains("_meta");
        if (meta && meta->is_object()) {
          if (const auto* token = meta->get_object().if_contains("progressToken")) {
            progress = json::object{{"jsonrpc", "2.0"},
                                    {"method", "notifications/progress"},
                                    {"params", json::object{{"progressToken", *token}, {"progress", 1}}}};
          }
        }
      }
      json::object text{{"type", "text"}, {"text", json::serialize(args)}};
      reply["result"] = json::object{{"content", json::array{text}}};
    } else {
      reply["error"] = json::object{{"code", -32601}, {"message", "Method not found"}};
    }
    asio::post(executor(), [self = std::static_pointer_cast<EchoLink>(shared_from_this()), progress = std::move(progress),
                            reply = std::move(reply)]() mutable {
      if (progress) self->deliver(std::move(*progress));
      self->deliver(std::move(reply));
    });
    return true;
  }
};

class NullRecords final : public mcp::RecordSink {
 public:
  void record(mcp::InteractionRecord) override {}
};

// Collects what a handler answers and checks the order of the calls.
class CollectingWriter final : public net::ResponseWriter {
 public:
  asio::awaitable<bool> send(net::Response response) override {
    if (responded) fail("a second response");
    responded = true;
    check_head(response);
    const auto type = response[http::field::content_type];
    if (type.starts_with("application/json") && !response.body().empty()) {
      boost::system::error_code ec;
      (void)json::parse(response.body(), ec);
      if (ec) {
        std::fprintf(stderr, "%u %s\n", response.result_int(), response.body().c_str());
        fail("a JSON reply that does not parse");
      }
    }
    co_return true;
  }
  asio::awaitable<bool> start_stream(http::response<http::empty_body> header) override {
    if (responded) fail("a stream after a response");
    responded = streaming_ = true;
    check_head(header);
    co_return true;
  }
  asio::awaitable<bool> write_chunk(std::string_view data) override {
    if (!streaming_ || finished) fail("a chunk outside a stream");
    check_sse(data);
    co_return true;
  }
  asio::awaitable<bool> finish_stream() override {
    if (!streaming_ || finished) fail("a stream finished twice or never started");
    finished = true;
    co_return true;
  }
  bool streaming() const override { return streaming_; }

  bool responded = false, finished = false;
  unsigned status = 0;
  std::string session_id, event_id;

 private:
  template <class Body>
  void check_head(const http::response<Body>& res) {
    static const std::set<unsigned> expected{200, 202, 400, 401, 403, 404, 405, 406, 415, 429, 503};
    status = res.result_int();
    if (!expected.count(status)) fail("an unexpected status");
    if (res["X-Content-Type-Options"] != "nosniff") fail("a reply without the security headers");
    if (auto sid = res["Mcp-Session-Id"]; !sid.empty()) session_id = std::string(sid);
  }
  void check_sse(std::string_view data) {
    std::size_t at = 0;
    while (at < data.size()) {
      auto end = data.find('\n', at);
      if (end == std::string_view::npos) end = data.size();
      auto line = data.substr(at, end - at);
      at = end + 1;
      if (line.starts_with("id: ")) {
        event_id = std::string(line.substr(4));
      } else if (line.starts_with("data: ") && line.size() > 6) {
        boost::system::error_code ec;
        (void)json::parse(line.substr(6), ec);
        if (ec) fail("an SSE data line that is not JSON");
      }
    }
  }
  bool streaming_ = false;
};

struct Fixture {
  Fixture() {
    spdlog::set_level(spdlog::level::off);
    dir = std::filesystem::temp_directory_path() / ("bastion-fuzz-http-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto tokens = (dir / "tokens").string();
    std::filesystem::remove(tokens);
    auto full = guard::auth::create_token("fuzzer", {"mcp:use"}, {});
    auto limited = guard::auth::create_token("limited", {"mcp:use"}, {"other__*"});
    if (!full || !limited) fail("no tokens");
    if (!guard::auth::append_token_file(tokens, full->entry).empty() ||
        !guard::auth::append_token_file(tokens, limited->entry).empty()) {
      fail("cannot write the tokens file");
    }
    token = full->token;
    limited_token = limited->token;
    // Small limits, so the fuzzer reaches 413/431; a rate high enough never to block, so the
    // limiter runs on every request but does not turn every input into a 429.
    const std::string yaml = "listen:\n"
                             "  public: {address: \"127.0.0.1:8080\"}\n"
                             "  trusted_proxies: [\"127.0.0.0/8\"]\n"
                             "  deny_cidrs: [\"203.0.113.0/24\"]\n"
                             "limits: {max_body_bytes: 16KiB, max_header_bytes: 8KiB, max_in_flight_per_client: 4}\n"
                             "origins: {allowed: [\"https://app.example.com\"]}\n"
                             "rate_limits:\n"
                             "  - {name: per_ip, match: /mcp, key: ip, rate: 1000000r/s, burst: 1000, nodelay: true}\n"
                             "  - {name: per_tool, tool: \"demo__*\", key: tool, rate: 1000000r/s, burst: 1000, nodelay: true}\n"
                             "auth:\n"
                             "  tokens_file: " + tokens + "\n"
                             "  resource: http://127.0.0.1:8080/mcp\n"
                             "  required_scopes: [mcp:use]\n"
                             "store: off\n"
                             "upstreams:\n"
                             "  demo: {command: /nonexistent/echo, timeout: 5s}\n"
                             "log: {level: off}\n";
    auto loaded = core::load_config_text(yaml, "fuzz.yaml");
    if (!loaded.config) {
      for (const auto& m : loaded.errors.messages) std::fprintf(stderr, "%s\n", m.c_str());
      fail("the fuzz configuration does not load");
    }
    config = std::move(*loaded.config);
    auto auth = app::build_authenticators(config.auth, io.get_executor());
    auto limits = app::build_rate_limit_backend(config, io.get_executor());
    if (auth.index() != 0 || limits.index() != 0) fail("security setup");
    resources.authenticators = std::get<0>(auth);
    resources.rate_limits = std::get<0>(limits);
    for (const auto& u : config.upstreams) {
      upstreams[u.name] = std::make_shared<upstream::Upstream>(
          io.get_executor(), u, [](asio::any_io_executor ex, const core::UpstreamConfig& c, int) {
            return std::make_shared<EchoLink>(std::move(ex), c.name);
          });
    }
    bool started = false;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      for (auto& [name, up] : upstreams) co_await up->start();
      started = true;
    }, asio::detached);
    for (int i = 0; i < 10'000 && !started; ++i) io.run_one_for(std::chrono::milliseconds(10));
    if (!started) fail("the echo upstream did not start");
    conn.listener = "public";
    conn.remote = {asio::ip::make_address("127.0.0.1"), 40000};
    conn.local = {asio::ip::make_address("127.0.0.1"), 8080};
  }

  // Runs a coroutine until it ends. `cancel_when_idle`: once nothing is ready to run (a stream
  // waiting for events), the client goes away, as the server's disconnect watch reports it.
  template <class Awaitable>
  bool run(Awaitable work, bool cancel_when_idle) {
    bool done = false, cancelled = false;
    asio::cancellation_signal signal;
    asio::co_spawn(io, std::move(work), asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr e) {
      done = true;
      if (!e) return;
      // A cancelled wait throws operation_aborted; the server's `handler || disconnect` drops it.
      try {
        std::rethrow_exception(e);
      } catch (const boost::system::system_error& error) {
        if (cancelled && error.code() == asio::error::operation_aborted) return;
        std::fprintf(stderr, "%s\n", error.what());
      } catch (const std::exception& error) {
        std::fprintf(stderr, "%s\n", error.what());
      }
      fail("a handler that throws");
    }));
    for (int idle = 0; !done;) {
      if (io.poll() > 0) continue;
      if (cancel_when_idle && !cancelled) {
        cancelled = true;
        signal.emit(asio::cancellation_type::terminal);
        continue;
      }
      // Nothing ready although it was told to stop: give timers a bounded chance, then report.
      if (++idle > 200) fail("a handler that never ends");
      io.run_one_for(std::chrono::milliseconds(10));
    }
    return cancelled;
  }

  std::filesystem::path dir;
  std::string token, limited_token;
  core::Config config;
  asio::io_context io;
  guard::GuardResources resources;
  std::map<std::string, std::shared_ptr<upstream::Upstream>> upstreams;
  std::shared_ptr<NullRecords> records = std::make_shared<NullRecords>();
  net::ConnectionInfo conn;
};

// Never destroyed: the upstream's supervision loops live as long as the process.
Fixture& fixture() {
  static Fixture* f = new Fixture;
  return *f;
}

void substitute(net::Request& req, const Fixture& f, const std::string& sid, const std::string& eid) {
  if (req["Mcp-Session-Id"] == "@sid") req.set("Mcp-Session-Id", sid);
  if (req["Last-Event-ID"] == "@eid") req.set("Last-Event-ID", eid);
  const std::string_view auth = req[http::field::authorization];
  if (auth == "Bearer @token") req.set(http::field::authorization, "Bearer " + f.token);
  if (auth == "Bearer @limited") req.set(http::field::authorization, "Bearer " + f.limited_token);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& f = fixture();
  static const bool trace = std::getenv("FUZZ_HTTP_TRACE") != nullptr;  // each request and its status
  // A fresh gateway state per input (sessions, limiter buckets), over the long-lived upstream.
  auto gen = app::make_generation(f.config, f.resources);
  gen->upstreams = f.upstreams;
  app::attach_router(*gen, f.records);
  auto endpoint = std::make_shared<mcp::StreamableHttpEndpoint>(gen->config, gen->router);
  guard::RejectionCounters rejections;
  const auto limits = app::limits_from(gen->config);

  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::string sid, eid;
  for (int n = 0; n < kMaxRequests && !rest.empty(); ++n) {
    const std::string_view before = rest;
    http::request_parser<http::string_body> parser;
    net::apply_limits(parser, limits);
    parser.eager(true);
    beast::error_code ec;
    // As http::async_read feeds it: need_more means every byte there is was not enough (the
    // server would wait for more, then time out); it must not see the same bytes again.
    while (!ec && !parser.is_done()) {
      const auto used = parser.put(asio::buffer(rest.data(), rest.size()), ec);
      rest.remove_prefix(used);
      if (used == 0) break;
    }
    if (ec || !parser.is_done()) break;  // 400/413/431/408: the server answers and closes
    // The framing rules the server checks once the header is in (smuggling vectors): refused
    // with 400/501 and the connection closed.
    const std::string_view consumed(before.data(), before.size() - rest.size());
    if (net::has_obs_fold(consumed) || net::framing_problem(parser.get())) break;
    net::Request req = parser.release();
    substitute(req, f, sid, eid);
    CollectingWriter writer;
    const bool cancelled = f.run(
        app::handle_public(gen, *endpoint, *f.records, rejections, req, writer, f.conn), true);
    if (!cancelled && !writer.responded) fail("a request without a response");
    if (!cancelled && writer.streaming() && !writer.finished) fail("a stream left open by its handler");
    if (trace) {
      std::fprintf(stderr, "%s %s -> %u%s%s\n", std::string(req.method_string()).c_str(),
                   std::string(req.target()).c_str(), writer.status, writer.streaming() ? " stream" : "",
                   cancelled ? " (client gone)" : "");
    }
    if (!writer.session_id.empty()) sid = writer.session_id;
    if (!writer.event_id.empty()) eid = writer.event_id;
    // The server reuses the connection only after a complete reply to a keep-alive request.
    if (cancelled || !req.keep_alive() || (writer.streaming() && !writer.finished)) break;
  }
  f.run(endpoint->close_all_sessions(), false);
  return 0;
}
