#include "app/gateway.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <boost/url.hpp>
#include <openssl/crypto.h>
#include <sched.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "app/privileges.hpp"
#include "app/public_pipeline.hpp"
#include "core/secrets.hpp"
#include "guard/client_address.hpp"
#include "guard/guard.hpp"
#include "guard/security_headers.hpp"
#include "app/gateway_metrics.hpp"
#include "app/recording.hpp"
#include "app/analyze_command.hpp"
#include "app/live_analysis.hpp"
#include "app/security_setup.hpp"
#include "app/supervisor.hpp"
#include "app/tls_setup.hpp"
#include "app/tracing.hpp"
#include "observe/process_group_sampler.hpp"
#include "observe/prometheus_text.hpp"
#include "mcp/jsonrpc.hpp"
#include "mcp/server/router.hpp"
#include "mcp/server/streamable_http.hpp"
#include "net/server/http_server.hpp"
#include "upstream/upstream.hpp"

namespace bastion::app {

namespace asio = boost::asio;
namespace http = net::http;
namespace json = boost::json;

namespace {

// Every interaction record feeds the metrics (and, once configured, the recorder).
class RecordingSink final : public mcp::RecordSink {
 public:
  explicit RecordingSink(GatewayMetrics& metrics) : metrics_(metrics) {}
  // Set once, before any listener starts.
  void attach(InteractionWriter* writer) { writer_ = writer; }
  void attach_live(std::shared_ptr<observe::LiveStats> live) { live_ = std::move(live); }
  void attach_tracing(std::shared_ptr<record::otlp::OtlpExporter> exporter, std::unique_ptr<RowBuilder> rows) {
    tracer_ = std::move(exporter);
    rows_ = std::move(rows);
  }
  void attach_durability(std::chrono::milliseconds timeout) { durable_timeout_ = timeout; }

  void record(mcp::InteractionRecord r) override {
    if (auto row = observe_and_row(r)) writer_->write_row(std::move(*row));
  }

  // store.durability: sync — the reply waits (up to durable_timeout) until the row survives a crash.
  asio::awaitable<void> commit(mcp::InteractionRecord r) override {
    auto row = observe_and_row(r);
    if (!row) co_return;
    if (!durable_timeout_) {
      writer_->write_row(std::move(*row));
      co_return;
    }
    using Signal = asio::experimental::concurrent_channel<void(boost::system::error_code, bool)>;
    auto ex = co_await asio::this_coro::executor;
    auto signal = std::make_shared<Signal>(ex, 1);
    writer_->write_row(std::move(*row), [signal](bool durable) { signal->try_send(boost::system::error_code{}, durable); });
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(ex, *durable_timeout_);
    auto outcome = co_await (signal->async_receive(asio::as_tuple(asio::use_awaitable)) ||
                             timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    const bool durable = outcome.index() == 0 && std::get<1>(std::get<0>(outcome));
    if (!durable) durability_misses_.fetch_add(1);
  }
  bool holds_replies() const override { return durable_timeout_.has_value(); }
  bool wants_payloads() const override { return writer_ != nullptr || tracer_ != nullptr; }
  std::uint64_t durability_misses() const { return durability_misses_.load(); }

 private:
  // Metrics, live windows and the span; the row for the store when there is one.
  std::optional<record::Interaction> observe_and_row(const mcp::InteractionRecord& r) {
    metrics_.count_interaction(r);
    if (live_ && !r.upstream.empty()) {
      observe::CallOutcome outcome;
      outcome.upstream = r.upstream;
      outcome.tool = r.tool;
      outcome.status = r.status.empty() ? std::string_view("ok") : std::string_view(r.status);
      outcome.error_code = r.error_code;
      outcome.error_message = r.error_message;
      outcome.latency_seconds = r.latency_ms / 1000.0;
      outcome.wall = r.timestamp;
      outcome.at = std::chrono::steady_clock::now();
      live_->observe(outcome);
    }
    spdlog::debug("interaction upstream={} method={} tool={} status={} latency_ms={:.2f}", r.upstream, r.method,
                  r.tool, r.status, r.latency_ms);
    if (tracer_ && !r.span_id.empty()) {
      // One row for both: the span carries the same tags and hashes the store keeps.
      auto row = writer_ ? writer_->to_row(r) : rows_->to_row(r);
      tracer_->submit(span_of(r, row));
      if (writer_) return row;
      return std::nullopt;
    }
    if (writer_) return writer_->to_row(r);
    return std::nullopt;
  }

  GatewayMetrics& metrics_;
  InteractionWriter* writer_ = nullptr;
  std::optional<std::chrono::milliseconds> durable_timeout_;  // set: store.durability sync
  std::atomic<std::uint64_t> durability_misses_{0};
  std::shared_ptr<observe::LiveStats> live_;
  std::shared_ptr<record::otlp::OtlpExporter> tracer_;
  std::unique_ptr<RowBuilder> rows_;  // tags for spans when the store is off
};

// Remembers the status a handler answered with, for the request metrics.
class StatusWriter final : public net::ResponseWriter {
 public:
  explicit StatusWriter(net::ResponseWriter& inner) : inner_(inner) {}
  asio::awaitable<bool> send(net::Response response) override {
    status = response.result_int();
    co_return co_await inner_.send(std::move(response));
  }
  asio::awaitable<bool> start_stream(http::response<http::empty_body> header) override {
    status = header.result_int();
    co_return co_await inner_.start_stream(std::move(header));
  }
  asio::awaitable<bool> write_chunk(std::string_view data) override { return inner_.write_chunk(data); }
  asio::awaitable<bool> finish_stream() override { return inner_.finish_stream(); }
  bool streaming() const override { return inner_.streaming(); }
  unsigned status = 0;

 private:
  net::ResponseWriter& inner_;
};

net::Response readiness_reply(bool ready) {
  return json_reply(ready ? http::status::ok : http::status::service_unavailable,
                    json::object{{"ready", ready}});
}

bool on_loopback(const std::string& host_port) {
  auto host = host_port.substr(0, host_port.rfind(':'));
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

struct Runtime {
  std::shared_ptr<const Generation> snapshot() const {
    std::lock_guard lock(mutex);
    return current;
  }
  void install(std::shared_ptr<const Generation> next) {
    std::lock_guard lock(mutex);
    current = std::move(next);
  }

  mutable std::mutex mutex;
  std::shared_ptr<const Generation> current;
  std::shared_ptr<mcp::StreamableHttpEndpoint> endpoint;
  guard::RejectionCounters rejections;
  GatewayMetrics metrics;
  std::shared_ptr<RecordingSink> records = std::make_shared<RecordingSink>(metrics);
  std::unique_ptr<InteractionWriter> writer;  // the knowledge base (null when store: off)
  std::shared_ptr<observe::LiveStats> live;   // recent calls, for triggers and analysis
  std::chrono::seconds live_capacity{0};
  std::unique_ptr<Supervisor> supervisor;
  std::shared_ptr<record::otlp::OtlpExporter> tracer;  // telemetry (null when not configured)
  asio::thread_pool analysis_pool{1};  // store scans for /api/v1/analysis, off the I/O threads
  std::shared_ptr<net::HttpServer> public_server, admin_server, redirect_server;
  std::optional<std::string> admin_token;  // required on the admin listener when set
  guard::GuardResources guard_resources;
  std::uint16_t public_port = 0;
  std::function<std::optional<std::string>(std::string_view token)> acme_challenge;
  TlsSetup tls;
  std::atomic<bool> ready{false};
};

asio::awaitable<void> public_handler(Runtime& rt, net::Request& req, net::ResponseWriter& writer,
                                     const net::ConnectionInfo& conn) {
  co_await handle_public(rt.snapshot(), *rt.endpoint, *rt.records, rt.rejections, req, writer, conn);
}

// Forecasts and the trigger conditions that hold, from the supervisor's last sample.
void add_assessment(json::object& check, const UpstreamAssessment& a) {
  json::array memory;
  for (const auto& m : a.forecast.memory) {
    json::object f{{"replica", m.slot}, {"rssBytes", m.rss_bytes}};
    if (m.slope_bytes_per_second) f["slopeBytesPerSecond"] = *m.slope_bytes_per_second;
    if (m.seconds_to_threshold) f["secondsToThreshold"] = *m.seconds_to_threshold;
    memory.push_back(std::move(f));
  }
  json::object latency{{"p95Seconds", a.forecast.latency_p95_seconds}, {"calls", a.window.count},
                       {"errorRate", a.window.error_rate}};
  if (a.forecast.latency_slope) latency["slope"] = *a.forecast.latency_slope;
  if (a.forecast.latency_seconds_to_threshold) latency["secondsToThreshold"] = *a.forecast.latency_seconds_to_threshold;
  check["latencyP95Ms"] = a.forecast.latency_p95_seconds * 1000.0;
  check["forecast"] = json::object{{"memory", std::move(memory)}, {"latency", std::move(latency)}};
  json::array conditions;
  for (const auto& c : a.conditions) {
    json::object o{{"trigger", c.name}, {"value", c.value}, {"threshold", c.threshold}, {"summary", c.summary}};
    if (c.replica) o["replica"] = *c.replica;
    if (c.seconds_to_threshold) o["secondsToThreshold"] = *c.seconds_to_threshold;
    conditions.push_back(std::move(o));
  }
  check["conditions"] = std::move(conditions);
}

json::object health_document(Runtime& rt) {
  json::object checks;
  const auto assessments = rt.supervisor ? rt.supervisor->assessments() : std::map<std::string, UpstreamAssessment>{};
  bool any_up = false, all_up = true;
  const auto gen = rt.snapshot();
  for (auto& [name, up] : gen->upstreams) {
    auto s = up->status();
    any_up = any_up || s.up;
    all_up = all_up && s.up;
    json::object c{{"componentType", "upstream"},
                   {"status", s.up ? "pass" : "fail"},
                   {"observedValue", s.replicas_up},
                   {"observedUnit", "replicas"},
                   {"restarts", s.restarts},
                   {"inFlight", s.in_flight}};
    if (!s.last_error.empty()) c["output"] = s.last_error;
    json::object reasons;
    for (const auto& [reason, n] : s.restarts_by_reason) reasons[reason] = n;
    c["restartsByReason"] = std::move(reasons);
    if (auto it = assessments.find(name); it != assessments.end()) {
      add_assessment(c, it->second);
      if (!it->second.conditions.empty() && s.up) c["status"] = "warn";
    }
    checks["upstream:" + name] = json::array{c};
  }
  std::string status = all_up ? "pass" : (any_up ? "warn" : "fail");
  if (rt.tracer) {
    auto t = rt.tracer->stats();
    auto health = rt.tracer->health();
    json::object c{{"componentType", "component"},
                   {"status", health == record::otlp::ExporterHealth::pass ? "pass"
                              : health == record::otlp::ExporterHealth::warn ? "warn" : "fail"},
                   {"observedValue", t.queued},
                   {"observedUnit", "queued spans"},
                   {"exportedTotal", t.exported},
                   {"droppedTotal", t.dropped},
                   {"failedRequestsTotal", t.failed_requests}};
    if (t.failing && !t.last_error.empty()) c["output"] = t.last_error;
    checks["telemetry"] = json::array{c};
    // Traces are not the service: a failing exporter warns, it does not take the gateway out.
    if (health != record::otlp::ExporterHealth::pass && status == "pass") status = "warn";
  }
  if (rt.writer) {
    auto stats = rt.writer->recorder().stats();
    auto health = rt.writer->recorder().health();
    json::object db{{"componentType", "datastore"},
                    {"status", health == record::RecorderHealth::ok ? "pass" : health == record::RecorderHealth::warn ? "warn" : "fail"},
                    {"observedValue", stats.queue_depth},
                    {"observedUnit", "queued records"},
                    {"storeUp", stats.store_up},
                    {"spooledTotal", stats.spooled_total},
                    {"droppedTotal", stats.dropped_total}};
    // A refusing spool is what loses records: say so even when a store retry failed since.
    std::string output = stats.spool_error;
    if (!stats.last_error.empty() && stats.last_error != stats.spool_error) {
      output += (output.empty() ? "" : "; ") + stats.last_error;
    }
    if (!output.empty()) db["output"] = output;
    checks["database"] = json::array{db};
    if (health == record::RecorderHealth::fail) status = "fail";
    else if (health == record::RecorderHealth::warn && status == "pass") status = "warn";
  }
  // Redis (shared rate limits), when configured: down means fail-open zones admit everything
  // (warn) and fail-closed zones answer 503 (fail).
  if (rt.guard_resources.rate_limits && rt.guard_resources.rate_limits->redis) {
    auto& backend = *rt.guard_resources.rate_limits;
    const bool up = backend.redis->connected();
    const bool closed = gen->config.redis && gen->config.redis->fail_mode == core::RedisConfig::FailMode::closed;
    const char* redis_status = up ? "pass" : closed ? "fail" : "warn";
    checks["redis"] = json::array{json::object{{"componentType", "datastore"},
                                               {"status", redis_status},
                                               {"unavailableTotal", backend.redis_unavailable.load()}}};
    if (!up && closed) status = "fail";
    else if (!up && status == "pass") status = "warn";
  }
  return json::object{{"status", status}, {"checks", checks}};
}

// Constant-time comparison of the presented admin bearer token.
bool admin_token_ok(const Runtime& rt, const net::Request& req) {
  if (!rt.admin_token) return true;
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return false;
  std::string_view v(it->value().data(), it->value().size());
  if (v.size() < 7 || (v.substr(0, 7) != "Bearer " && v.substr(0, 7) != "bearer ")) return false;
  auto presented = v.substr(7);
  const auto& expected = *rt.admin_token;
  return presented.size() == expected.size() &&
         CRYPTO_memcmp(presented.data(), expected.data(), expected.size()) == 0;
}

// Built outside the coroutine (GCC 12 and brace-initialised aggregates in co_await).
net::Response admin_rejection(Runtime& rt, bool unauthorized, unsigned version) {
  guard::Rejection r{http::status::forbidden, "admin_ip_denied", "Forbidden"};
  if (unauthorized) {
    r = guard::Rejection{http::status::unauthorized, "admin_unauthorized",
                         "Unauthorized: the admin listener needs its bearer token",
                         {{"WWW-Authenticate", "Bearer realm=\"bastion-admin\""}}};
  }
  return guard::reject(r, rt.rejections, version);
}

// GET /api/v1/analysis?window=1h: the bottleneck report (observe/analyzer.hpp) over the window.
asio::awaitable<net::Response> analysis_reply(Runtime& rt, const net::Request& req) {
  std::string window_text = "1h";
  auto target = boost::urls::parse_origin_form(std::string_view(req.target().data(), req.target().size()));
  if (target) {
    auto params = target->params();
    if (auto it = params.find("window"); it != params.end() && (*it).has_value) window_text = (*it).value;
  }
  std::string error;
  auto window = parse_window(window_text, error);
  if (!window) co_return json_reply(http::status::bad_request, json::object{{"error", error}});
  const auto gen = rt.snapshot();
  LiveView view;
  view.calls = rt.live.get();
  view.calls_capacity = rt.live ? rt.live_capacity : std::chrono::seconds(0);
  if (rt.supervisor) view.assessments = rt.supervisor->assessments();
  for (auto& [name, up] : gen->upstreams) view.upstreams.push_back(up->status());
  auto input = live_analysis_input(gen->config, view, *window);
  if (needs_store(gen->config, view, *window)) {
    // The scan may read many rows: it runs on its own thread while this coroutine waits.
    co_await asio::co_spawn(
        rt.analysis_pool,
        [&]() -> asio::awaitable<void> {
          add_store_analysis(gen->config, *window, input);
          co_return;
        },
        asio::use_awaitable);
  }
  co_return json_reply(http::status::ok, observe::to_json(observe::analyze(input)));
}

asio::awaitable<void> admin_handler(Runtime& rt, net::Request& req, net::ResponseWriter& raw_writer,
                                    const net::ConnectionInfo& conn) {
  const auto gen = rt.snapshot();
  HeaderingWriter writer(raw_writer, gen->security_headers, conn.tls);
  if (!gen->config.listen.admin_allow_cidrs.empty()) {
    core::CidrList allowed;
    allowed.assign(gen->config.listen.admin_allow_cidrs);
    if (!allowed.contains(guard::ClientAddressResolver::from_asio(conn.remote.address()))) {
      co_await writer.send(admin_rejection(rt, false, req.version()));
      co_return;
    }
  }
  if (!admin_token_ok(rt, req)) {
    co_await writer.send(admin_rejection(rt, true, req.version()));
    co_return;
  }
  auto path = path_of(req);
  if (path == "/healthz") {
    auto doc = health_document(rt);
    auto status = doc["status"] == "fail" ? http::status::service_unavailable : http::status::ok;
    co_await writer.send(json_reply(status, doc, "application/health+json"));
  } else if (path == "/readyz") {
    bool ready = rt.ready.load() && (!rt.writer || rt.writer->recorder().stats().running);
    bool any = false;
    for (auto& [n, up] : rt.snapshot()->upstreams) any = any || up->status().up;
    co_await writer.send(readiness_reply(ready && any));
  } else if (path == "/api/v1/analysis" && req.method() == http::verb::get) {
    co_await writer.send(co_await analysis_reply(rt, req));
  } else if (path == "/metrics") {
    net::Response res{http::status::ok, req.version()};
    res.set(http::field::content_type, std::string(observe::kPrometheusContentType));
    res.set(http::field::cache_control, "no-store");
    res.body() = rt.metrics.render();
    co_await writer.send(std::move(res));
  } else {
    co_await writer.send(net::text_response(http::status::not_found, "not found", req.version()));
  }
}

// certbot --webroot writes <webroot>/.well-known/acme-challenge/<token>; tokens are base64url,
// so nothing can climb out of the directory.
std::optional<std::string> webroot_challenge(const std::string& webroot, std::string_view token) {
  if (token.empty() || token.size() > 256) return std::nullopt;
  for (char ch : token) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_') return std::nullopt;
  }
  std::ifstream in(webroot + "/.well-known/acme-challenge/" + std::string(token), std::ios::binary);
  if (!in) return std::nullopt;
  std::string body(4096, '\0');
  in.read(body.data(), static_cast<std::streamsize>(body.size()));
  body.resize(static_cast<std::size_t>(in.gcount()));
  return body;
}

// The plain-HTTP listener: ACME HTTP-01 challenges, and a permanent redirect to https for
// everything else (never serves MCP in clear text).
asio::awaitable<void> redirect_handler(Runtime& rt, net::Request& req, net::ResponseWriter& raw_writer,
                                       const net::ConnectionInfo& conn) {
  const auto gen = rt.snapshot();
  HeaderingWriter writer(raw_writer, gen->security_headers, conn.tls);
  auto path = path_of(req);
  constexpr std::string_view challenge_prefix = "/.well-known/acme-challenge/";
  if (path.rfind(challenge_prefix, 0) == 0) {
    std::optional<std::string> answer;
    const auto token = std::string_view(path).substr(challenge_prefix.size());
    if (rt.acme_challenge) answer = rt.acme_challenge(token);
    if (!answer && !gen->config.listen.redirect_webroot.empty()) answer = webroot_challenge(gen->config.listen.redirect_webroot, token);
    if (answer) {
      net::Response res{http::status::ok, req.version()};
      res.set(http::field::content_type, "application/octet-stream");
      res.set(http::field::cache_control, "no-store");
      res.body() = std::move(*answer);
      co_await writer.send(std::move(res));
    } else {
      co_await writer.send(net::text_response(http::status::not_found, "not found", req.version()));
    }
    co_return;
  }
  auto host_it = req.find(http::field::host);
  std::string host = host_it == req.end() ? "" : std::string(host_it->value());
  // Host without its port ("[v6]:80" keeps the brackets); anything odd gets no redirect.
  if (!host.empty() && host.front() == '[') host = host.substr(0, host.find(']') + 1);
  else host = host.substr(0, host.find(':'));
  bool valid = !host.empty();
  for (char ch : host) valid = valid && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '[' || ch == ']' || ch == ':');
  if (!valid) {
    co_await writer.send(net::text_response(http::status::bad_request, "missing or invalid Host", req.version()));
    co_return;
  }
  std::string location = "https://" + host;
  if (rt.public_port != 443) location += ":" + std::to_string(rt.public_port);
  location.append(req.target().data(), req.target().size());
  net::Response res{http::status::moved_permanently, req.version()};
  res.set(http::field::location, location);
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.body() = "moved to " + location + "\n";
  co_await writer.send(std::move(res));
}

using HandlerFn = asio::awaitable<void> (*)(Runtime&, net::Request&, net::ResponseWriter&, const net::ConnectionInfo&);

// Wraps a listener's handler with the request counter and duration histogram.
asio::awaitable<void> instrumented(Runtime& rt, std::string_view listener, HandlerFn handler, net::Request& req,
                                   net::ResponseWriter& writer, const net::ConnectionInfo& conn) {
  const auto started = std::chrono::steady_clock::now();
  StatusWriter status(writer);
  co_await handler(rt, req, status, conn);
  rt.metrics.count_http(listener, status.status,
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

// Requests a listener refuses itself (parse errors, framing, limits, timeouts, the connection
// cap) are replies too: counted by status like any other, and by reason with the guards'.
net::RefusalObserver count_refusals(Runtime& rt, std::string listener) {
  return [&rt, listener = std::move(listener)](unsigned status, std::string_view reason) {
    rt.metrics.count_refused(listener, status);
    rt.rejections.add(std::string(reason));
  };
}

// Scrape-time views of state kept elsewhere: nothing is pushed from the hot path for these.
void register_runtime_metrics(Runtime& rt) {
  auto& reg = rt.metrics.registry();
  reg.callback_gauge("bastion_upstream_up", "1 when the upstream has a ready replica.", {"upstream"}, [&rt] {
    std::vector<observe::CallbackSample> out;
    for (auto& [name, up] : rt.snapshot()->upstreams) out.push_back({{name}, up->status().up ? 1.0 : 0.0});
    return out;
  });
  reg.callback_gauge("bastion_upstream_in_flight", "Calls in flight per upstream.", {"upstream"}, [&rt] {
    std::vector<observe::CallbackSample> out;
    for (auto& [name, up] : rt.snapshot()->upstreams) out.push_back({{name}, double(up->status().in_flight)});
    return out;
  });
  reg.callback_counter("bastion_upstream_restarts_total",
                       "Replica restarts: after an exit, or by a trigger (memory, memory_forecast, error_rate).",
                       {"upstream", "reason"}, [&rt] {
                         std::vector<observe::CallbackSample> out;
                         for (auto& [name, up] : rt.snapshot()->upstreams) {
                           auto s = up->status();
                           out.push_back({{name, "exit"}, double(s.restarts_by_reason.count("exit") ? s.restarts_by_reason.at("exit") : 0)});
                           for (const auto& [reason, n] : s.restarts_by_reason) {
                             if (reason != "exit") out.push_back({{name, reason}, double(n)});
                           }
                         }
                         return out;
                       });
  reg.callback_gauge("bastion_upstream_memory_bytes", "Resident memory of each stdio replica's process group.",
                     {"upstream", "replica"}, [&rt] {
                       static const observe::ProcessGroupSampler sampler;
                       std::vector<observe::CallbackSample> out;
                       for (auto& [name, up] : rt.snapshot()->upstreams) {
                         auto status = up->status();
                         for (std::size_t i = 0; i < status.replica_pgids.size(); ++i) {
                           if (status.replica_pgids[i] <= 0) continue;
                           auto usage = sampler.sample(static_cast<pid_t>(status.replica_pgids[i]));
                           out.push_back({{name, std::to_string(i)}, double(usage.rss_bytes)});
                         }
                       }
                       return out;
                     });
  reg.callback_gauge("bastion_upstream_replicas", "Replicas per upstream, scaled-out ones included.", {"upstream"}, [&rt] {
    std::vector<observe::CallbackSample> out;
    for (auto& [name, up] : rt.snapshot()->upstreams) out.push_back({{name}, double(up->status().replicas)});
    return out;
  });
  reg.callback_gauge("bastion_upstream_memory_forecast_seconds",
                     "Seconds until a replica's memory trend reaches the memory trigger (absent: not rising).",
                     {"upstream", "replica"}, [&rt] {
                       std::vector<observe::CallbackSample> out;
                       if (!rt.supervisor) return out;
                       for (const auto& [name, a] : rt.supervisor->assessments()) {
                         for (const auto& m : a.forecast.memory) {
                           if (m.seconds_to_threshold) out.push_back({{name, std::to_string(m.slot)}, *m.seconds_to_threshold});
                         }
                       }
                       return out;
                     });
  reg.callback_gauge("bastion_trigger_active", "1 while a trigger condition holds.", {"upstream", "trigger"}, [&rt] {
    std::vector<observe::CallbackSample> out;
    if (!rt.supervisor) return out;
    for (const auto& [name, a] : rt.supervisor->assessments()) {
      std::set<std::string> seen;
      for (const auto& c : a.conditions) {
        if (seen.insert(c.name).second) out.push_back({{name, c.name}, 1.0});
      }
    }
    return out;
  });
  reg.callback_counter("bastion_supervisor_actions_total", "Actions the triggers took.", {"upstream", "action", "reason"},
                       [&rt] {
                         std::vector<observe::CallbackSample> out;
                         if (!rt.supervisor) return out;
                         for (const auto& [key, n] : rt.supervisor->actions()) {
                           out.push_back({{std::get<0>(key), std::get<1>(key), std::get<2>(key)}, double(n)});
                         }
                         return out;
                       });
  reg.callback_counter("bastion_alerts_sent_total", "Alerts delivered to the alert_admin webhook.", [&rt] {
    return rt.supervisor ? double(rt.supervisor->alerts_sent()) : 0.0;
  });
  reg.callback_counter("bastion_alert_failures_total", "Alert webhook deliveries that failed (retried).", [&rt] {
    return rt.supervisor ? double(rt.supervisor->alert_failures()) : 0.0;
  });
  reg.callback_counter("bastion_recorder_durability_timeouts_total",
                       "Replies sent before their row was durable (store.durability: sync; timeout or drop).", [&rt] {
                         return double(rt.records->durability_misses());
                       });
  reg.callback_counter("bastion_trace_spans_exported_total", "Spans the OTLP collector accepted.", [&rt] {
    return rt.tracer ? double(rt.tracer->stats().exported) : 0.0;
  });
  reg.callback_counter("bastion_trace_spans_dropped_total", "Spans lost: queue full, or refused by the collector.", [&rt] {
    return rt.tracer ? double(rt.tracer->stats().dropped) : 0.0;
  });
  reg.callback_gauge("bastion_mcp_sessions", "Live MCP sessions.", [&rt] { return double(rt.endpoint->session_count()); });
  reg.callback_counter("bastion_rate_limited_total", "Requests rejected by a rate-limit zone.", {"zone"}, [&rt] {
    std::vector<observe::CallbackSample> out;
    auto& backend = *rt.guard_resources.rate_limits;
    std::lock_guard lock(backend.mutex);
    for (auto& [zone, n] : backend.limited) out.push_back({{zone}, double(n)});
    return out;
  });
  reg.callback_counter("bastion_rate_limit_shadowed_total", "Requests a shadow-mode zone would have rejected.", {"zone"},
                       [&rt] {
                         std::vector<observe::CallbackSample> out;
                         auto& backend = *rt.guard_resources.rate_limits;
                         std::lock_guard lock(backend.mutex);
                         for (auto& [zone, n] : backend.shadowed) out.push_back({{zone}, double(n)});
                         return out;
                       });
  reg.callback_counter("bastion_auth_failures_total", "Authentication failures by reason.", {"reason"}, [&rt] {
    std::vector<observe::CallbackSample> out;
    for (auto& [reason, n] : rt.rejections.snapshot()) {
      if (reason.rfind("auth_", 0) == 0) out.push_back({{reason.substr(5)}, double(n)});
    }
    return out;
  });
  reg.callback_gauge("bastion_recorder_queue_depth", "Records waiting for the database writer.", [&rt] {
    return rt.writer ? double(rt.writer->recorder().stats().queue_depth) : 0.0;
  });
  reg.callback_counter("bastion_recorder_written_total", "Records written to the database.", [&rt] {
    return rt.writer ? double(rt.writer->recorder().stats().written_total) : 0.0;
  });
  reg.callback_counter("bastion_recorder_spooled_total", "Records written to the disk spool (database down or slow).", [&rt] {
    return rt.writer ? double(rt.writer->recorder().stats().spooled_total) : 0.0;
  });
  reg.callback_counter("bastion_recorder_dropped_total", "Records lost (spool over its cap or failing). Must stay 0.", [&rt] {
    return rt.writer ? double(rt.writer->recorder().stats().dropped_total) : 0.0;
  });
  reg.callback_gauge("bastion_recorder_store_up", "1 when the database accepts writes.", [&rt] {
    return rt.writer && rt.writer->recorder().stats().store_up ? 1.0 : 0.0;
  });
  reg.callback_counter("bastion_tags_invalid_total", "Agent-reported tags ignored as invalid, by tag.", {"tag"}, [&rt] {
    std::vector<observe::CallbackSample> out;
    if (!rt.writer) return out;
    const auto& t = rt.writer->tag_stats();
    out.push_back({{"quality"}, double(t.invalid_quality.load())});
    out.push_back({{"precision"}, double(t.invalid_precision.load())});
    out.push_back({{"confidence"}, double(t.invalid_confidence.load())});
    out.push_back({{"contradiction"}, double(t.invalid_contradiction.load())});
    return out;
  });
  reg.callback_counter("bastion_requests_rejected_total", "Requests rejected by a guard or by the HTTP server itself, by reason.", {"reason"}, [&rt] {
    std::vector<observe::CallbackSample> out;
    for (auto& [reason, n] : rt.rejections.snapshot()) out.push_back({{reason}, double(n)});
    return out;
  });
}

std::string endpoint_text(const boost::asio::ip::tcp::endpoint& e) {
  auto a = e.address();
  std::string out = a.to_string();
  if (a.is_v6()) out = "[" + out + "]";
  out.push_back(':');
  out.append(std::to_string(e.port()));
  return out;
}

std::string ready_document(const boost::asio::ip::tcp::endpoint& pub,
                           const std::optional<boost::asio::ip::tcp::endpoint>& admin) {
  json::object doc{{"public", endpoint_text(pub)}};
  if (admin) doc["admin"] = endpoint_text(*admin);
  return json::serialize(doc);
}

// SIGHUP: re-read the file; on any error keep running as before. Upstreams whose settings did
// not change keep their processes and sessions; new ones start before the switch, removed or
// changed ones stop after it. Client connections are never dropped.
asio::awaitable<void> reload(Runtime& rt, asio::any_io_executor ex, std::string path) {
  auto loaded = core::load_config_file(path);
  if (!loaded.config) {
    for (auto& m : loaded.errors.messages) spdlog::error("reload refused, keeping the running configuration: {}", m);
    co_return;
  }
  auto authenticators = build_authenticators(loaded.config->auth, ex);
  if (auto* e = std::get_if<SetupError>(&authenticators)) {
    spdlog::error("reload refused, keeping the running configuration: {}", e->message);
    co_return;
  }
  guard::GuardResources resources = rt.guard_resources;
  resources.authenticators = std::get<0>(authenticators);
  auto next = make_generation(std::move(*loaded.config), resources);
  const auto old = rt.snapshot();
  const auto& c = next->config;
  if (c.listen.public_listener.address != old->config.listen.public_listener.address ||
      (c.listen.admin ? c.listen.admin->address : "") != (old->config.listen.admin ? old->config.listen.admin->address : "") ||
      c.run_as != old->config.run_as || c.data_dir != old->config.data_dir) {
    spdlog::warn("reload: listener addresses, run_as and data_dir only change on restart");
  }
  std::vector<std::shared_ptr<upstream::Upstream>> started, stopped;
  std::vector<std::string> added, kept, changed, removed;
  for (const auto& u : c.upstreams) {
    auto it = old->upstreams.find(u.name);
    if (it != old->upstreams.end() && it->second->config() == u) {
      next->upstreams[u.name] = it->second;
      kept.push_back(u.name);
    } else {
      auto up = std::make_shared<upstream::Upstream>(ex, u);
      next->upstreams[u.name] = up;
      started.push_back(up);
      (it == old->upstreams.end() ? added : changed).push_back(u.name);
    }
  }
  for (const auto& [name, up] : old->upstreams) {
    auto it = next->upstreams.find(name);
    if (it == next->upstreams.end() || it->second != up) {
      stopped.push_back(up);
      if (it == next->upstreams.end()) removed.push_back(name);
    }
  }
  for (auto& up : started) co_await up->start();
  attach_router(*next, rt.records);
  rt.guard_resources = resources;
  rt.install(next);
  rt.endpoint->replace_router(next->router);
  spdlog::set_level(spdlog::level::from_str(c.log.level));
  if (!stopped.empty()) {
    // Drain before stopping: calls already on a replaced upstream finish there (bounded by
    // shutdown_grace), so a reload fails no call. New requests already see the new generation.
    const auto deadline = std::chrono::steady_clock::now() + c.shutdown_grace;
    auto busy = [&] {
      if (old->posts_in_flight.load() > 0) return true;
      for (auto& up : stopped) {
        if (up->status().in_flight > 0) return true;
      }
      return false;
    };
    asio::steady_timer poll(ex);
    while (busy() && std::chrono::steady_clock::now() < deadline) {
      poll.expires_after(std::chrono::milliseconds(20));
      co_await poll.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (busy()) {
      spdlog::warn("reload: calls still in flight after {} ms; stopping the replaced upstreams anyway",
                   c.shutdown_grace.count());
    }
  }
  for (auto& up : stopped) co_await up->stop();
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& n : v) {
      if (!out.empty()) out.push_back(',');
      out.append(n);
    }
    return out.empty() ? std::string("-") : out;
  };
  spdlog::info("configuration reloaded: upstreams added {} changed {} removed {} kept {}", join(added),
               join(changed), join(removed), join(kept));
}

}  // namespace

// One I/O thread per CPU this process may run on (taskset/cgroups), not per CPU online.
unsigned usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

int serve(core::Config config, const ServeOptions& options) {
  const unsigned threads = usable_cpus();
  asio::io_context ioc(static_cast<int>(threads));
  Runtime rt;
  {
    auto authenticators = build_authenticators(config.auth, ioc.get_executor());
    if (auto* e = std::get_if<SetupError>(&authenticators)) {
      spdlog::critical("authentication: {}", e->message);
      return 1;
    }
    auto backend = build_rate_limit_backend(config, ioc.get_executor());
    if (auto* e = std::get_if<SetupError>(&backend)) {
      spdlog::critical("rate limiting: {}", e->message);
      return 1;
    }
    if (config.telemetry) {
      // Made now: its headers file is a secret that only the starting user may read.
      auto exporter = make_trace_exporter(*config.telemetry, ioc.get_executor());
      if (auto* e = std::get_if<std::string>(&exporter)) {
        spdlog::critical("{}", *e);
        return 1;
      }
      rt.tracer = std::get<0>(std::move(exporter));
      rt.records->attach_tracing(rt.tracer, std::make_unique<RowBuilder>(config));
    }
    rt.guard_resources.authenticators = std::get<0>(authenticators);
    rt.guard_resources.rate_limits = std::get<0>(backend);
    if (!config.auth.enabled() && !on_loopback(config.listen.public_listener.address)) {
      spdlog::warn("the public listener is not on loopback and no authentication is configured: anyone who "
                   "can reach it may call every tool");
    }
    auto gen = make_generation(config, rt.guard_resources);
    for (const auto& u : config.upstreams) {
      gen->upstreams[u.name] = std::make_shared<upstream::Upstream>(ioc.get_executor(), u);
    }
    attach_router(*gen, rt.records);
    rt.endpoint = std::make_shared<mcp::StreamableHttpEndpoint>(config, gen->router);
    rt.install(gen);
  }
  {
    // The live windows keep the longest trigger window (at least 5 minutes).
    auto longest = std::max<std::chrono::milliseconds>(config.monitoring.defaults.triggers.window, std::chrono::minutes(5));
    for (const auto& [n, m] : config.monitoring.per_upstream) longest = std::max(longest, m.triggers.window);
    rt.live_capacity = std::chrono::duration_cast<std::chrono::seconds>(longest);
    rt.live = std::make_shared<observe::LiveStats>(rt.live_capacity);
    rt.records->attach_live(rt.live);
  }
  register_runtime_metrics(rt);

  // TLS first, while files only root may read are still readable.
  if (config.listen.tls) {
    auto setup = setup_tls(config);
    if (auto* e = std::get_if<std::string>(&setup)) {
      spdlog::critical("{}", *e);
      return 1;
    }
    rt.tls = std::get<TlsSetup>(std::move(setup));
    if (rt.tls.challenges) {
      rt.acme_challenge = [store = rt.tls.challenges](std::string_view token) { return store->lookup(token); };
    }
  }
  rt.public_server = std::make_shared<net::HttpServer>(
      ioc, "public", limits_from(config),
      [&rt](net::Request& r, net::ResponseWriter& w, const net::ConnectionInfo& c) {
        return instrumented(rt, "public", &public_handler, r, w, c);
      });
  if (rt.tls.provider) rt.public_server->set_tls(rt.tls.provider);
  rt.public_server->set_refusal_observer(count_refusals(rt, "public"));
  auto public_ep = rt.public_server->bind(config.listen.public_listener.address);
  if (!public_ep) {
    spdlog::critical("cannot listen on {}: {}", config.listen.public_listener.address, public_ep.error().message());
    return 1;
  }
  std::optional<boost::asio::ip::tcp::endpoint> admin_ep;
  if (config.listen.admin) {
    rt.admin_server = std::make_shared<net::HttpServer>(
        ioc, "admin", limits_from(config),
        [&rt](net::Request& r, net::ResponseWriter& w, const net::ConnectionInfo& c) {
          return instrumented(rt, "admin", &admin_handler, r, w, c);
        });
    rt.admin_server->set_refusal_observer(count_refusals(rt, "admin"));
    auto bound = rt.admin_server->bind(config.listen.admin->address);
    if (!bound) {
      spdlog::critical("cannot listen on {}: {}", config.listen.admin->address, bound.error().message());
      return 1;
    }
    admin_ep = *bound;
    if (auto path = core::secret_file_path(config.listen.admin_token_file, "ADMIN_TOKEN")) {
      auto token = core::read_secret_file(*path);
      if (!token.value || token.value->empty()) {
        spdlog::critical("admin token: {}", token.error.empty() ? "the file is empty" : token.error);
        return 1;
      }
      rt.admin_token = std::move(token.value);
    }
  }
  rt.public_port = public_ep->port();
  if (config.listen.redirect) {
    rt.redirect_server = std::make_shared<net::HttpServer>(
        ioc, "redirect", limits_from(config),
        [&rt](net::Request& r, net::ResponseWriter& w, const net::ConnectionInfo& c) {
          return instrumented(rt, "redirect", &redirect_handler, r, w, c);
        });
    rt.redirect_server->set_refusal_observer(count_refusals(rt, "redirect"));
    if (auto bound = rt.redirect_server->bind(config.listen.redirect->address); !bound) {
      spdlog::critical("cannot listen on {}: {}", config.listen.redirect->address, bound.error().message());
      return 1;
    }
  }
  // Opened while still privileged: the ready file may live where run_as cannot create files.
  std::optional<std::ofstream> ready_out;
  if (options.ready_file) {
    ready_out.emplace(*options.ready_file, std::ios::trunc);
    if (!*ready_out) {
      spdlog::critical("cannot write the ready file {}", *options.ready_file);
      return 1;
    }
  }
  // Listeners are bound: now stop being root before anything else runs.
  if (auto r = prepare_data_dir(config.data_dir, config.run_as); !r.ok) {
    spdlog::critical("{}", r.message);
    return 1;
  }
  if (auto r = drop_privileges(config.run_as); !r.ok) {
    spdlog::critical("{}", r.message);
    return 1;
  }
  // The knowledge base opens as run_as, so every file it creates (database, spool) is its own.
  if (config.store.enabled) {
    auto started = start_recording(config);
    if (auto* e = std::get_if<std::string>(&started)) {
      spdlog::critical("{}", *e);
      return 1;
    }
    rt.writer = std::move(std::get<0>(started));
    rt.records->attach(rt.writer.get());
    if (config.store.durability == core::StoreConfig::Durability::sync) {
      rt.records->attach_durability(config.store.durable_timeout);
    }
  }

  asio::signal_set signals(ioc, SIGINT, SIGTERM, SIGHUP);
  std::function<void()> wait_signal;
  auto shutdown = [&]() -> asio::awaitable<void> {
    spdlog::info("shutting down: draining for up to {} ms", config.shutdown_grace.count());
    rt.ready = false;
    if (rt.supervisor) rt.supervisor->stop();
    if (rt.tls.acme) rt.tls.acme->stop();
    if (rt.tls.provider) rt.tls.provider->stop_watching();
    co_await rt.public_server->shutdown(config.shutdown_grace);
    if (rt.admin_server) co_await rt.admin_server->shutdown(std::chrono::milliseconds(500));
    if (rt.redirect_server) co_await rt.redirect_server->shutdown(std::chrono::milliseconds(500));
    co_await rt.endpoint->close_all_sessions();
    for (auto& [n, up] : rt.snapshot()->upstreams) co_await up->stop();
    if (rt.writer && !rt.writer->recorder().stop(std::min<std::chrono::milliseconds>(config.shutdown_grace,
                                                                                    std::chrono::seconds(5)))) {
      spdlog::warn("recorder: the database did not take every record before shutdown; the rest is in the spool");
    }
    if (rt.tracer) co_await rt.tracer->shutdown(std::chrono::seconds(2));
    if (rt.guard_resources.rate_limits && rt.guard_resources.rate_limits->redis) {
      rt.guard_resources.rate_limits->redis->close();
    }
    ioc.stop();
  };
  wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        if (rt.tls.provider && !rt.tls.acme) rt.tls.provider->reload();
        if (options.config_path) {
          asio::co_spawn(ioc, reload(rt, ioc.get_executor(), *options.config_path), asio::detached);
        } else {
          spdlog::warn("SIGHUP ignored: the embedded configuration has no file to re-read");
        }
        wait_signal();
        return;
      }
      asio::co_spawn(ioc, shutdown(), asio::detached);
    });
  };
  wait_signal();

  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        for (auto& [name, up] : rt.snapshot()->upstreams) co_await up->start();
        rt.public_server->start();
        if (rt.admin_server) rt.admin_server->start();
        if (rt.redirect_server) rt.redirect_server->start();
        if (rt.tls.provider && config.listen.tls->reload && !rt.tls.acme) rt.tls.provider->watch(ioc.get_executor());
        // The redirect listener answers HTTP-01 challenges, so it runs before the first order.
        if (rt.tls.acme) rt.tls.acme->start(ioc.get_executor());
        rt.supervisor = std::make_unique<Supervisor>(
            ioc.get_executor(), [&rt] { return rt.snapshot()->config; },
            [&rt] {
              std::vector<SupervisedUpstream> out;
              for (auto& [name, up] : rt.snapshot()->upstreams) out.push_back({name, up});
              return out;
            },
            rt.live, admin_ep ? "http://" + endpoint_text(*admin_ep) + "/api/v1/analysis" : std::string());
        rt.supervisor->start();
        if (rt.tracer) rt.tracer->start();
        rt.ready = true;
        if (ready_out) {
          *ready_out << ready_document(*public_ep, admin_ep) << std::endl;
          ready_out.reset();
        }
        spdlog::info("bastion serving MCP on {}://{}/mcp (admin {})", rt.tls.provider ? "https" : "http",
                     endpoint_text(*public_ep),
                     admin_ep ? endpoint_text(*admin_ep) : std::string("off"));
        asio::steady_timer sweep(ioc);
        for (;;) {
          sweep.expires_after(std::chrono::seconds(30));
          auto [ec] = co_await sweep.async_wait(asio::as_tuple(asio::use_awaitable));
          if (ec || !rt.ready) co_return;
          co_await rt.endpoint->expire_idle_sessions();
        }
      },
      asio::detached);

  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  spdlog::info("bastion stopped");
  return 0;
}

}  // namespace bastion::app
