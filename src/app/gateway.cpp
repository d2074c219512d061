#include "app/gateway.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <sched.h>

#include <fstream>
#include <mutex>
#include <thread>

#include "app/privileges.hpp"
#include "guard/guard.hpp"
#include "mcp/server/router.hpp"
#include "mcp/server/streamable_http.hpp"
#include "net/server/http_server.hpp"
#include "upstream/upstream.hpp"

namespace bastion::app {

namespace asio = boost::asio;
namespace http = net::http;
namespace json = boost::json;

namespace {

// Until the recorder lands, interaction records are counted and logged at debug level.
class LogRecordSink final : public mcp::RecordSink {
 public:
  void record(mcp::InteractionRecord r) override {
    ++count;
    spdlog::debug("interaction upstream={} method={} tool={} status={} latency_ms={:.2f}", r.upstream,
                  r.method, r.tool, r.status, r.latency_ms);
  }
  std::atomic<std::uint64_t> count{0};
};

net::Response json_reply(http::status status, const json::value& body, std::string_view type = "application/json") {
  net::Response res{status, 11};
  res.set(http::field::content_type, type);
  res.set(http::field::cache_control, "no-store");
  res.body() = json::serialize(body);
  return res;
}

// Built outside coroutines: GCC 12 mis-compiles brace-initialised JSON inside them.
net::Response public_health_reply() {
  return json_reply(http::status::ok, json::object{{"status", "pass"}}, "application/health+json");
}

net::Response readiness_reply(bool ready) {
  return json_reply(ready ? http::status::ok : http::status::service_unavailable,
                    json::object{{"ready", ready}});
}

std::string path_of(const net::Request& req) {
  std::string_view target(req.target().data(), req.target().size());
  auto q = target.find('?');
  return std::string(target.substr(0, q));
}

// What a configuration reload replaces as a whole; requests hold the one they started with.
struct Generation {
  core::Config config;
  std::map<std::string, std::shared_ptr<upstream::Upstream>> upstreams;
  std::shared_ptr<mcp::Router> router;
  guard::GuardChain guards;
};

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
  std::shared_ptr<LogRecordSink> records = std::make_shared<LogRecordSink>();
  std::shared_ptr<net::HttpServer> public_server, admin_server;
  std::atomic<bool> ready{false};
};

asio::awaitable<void> public_handler(Runtime& rt, net::Request& req, net::ResponseWriter& writer,
                                     const net::ConnectionInfo& conn) {
  const auto gen = rt.snapshot();
  if (auto rejection = gen->guards.run(guard::RequestContext{req, conn})) {
    co_await writer.send(guard::reject(*rejection, rt.rejections, req.version()));
    co_return;
  }
  auto path = path_of(req);
  if (path == "/healthz") {
    co_await writer.send(public_health_reply());
    co_return;
  }
  if (path == "/mcp" || path == "/mcp/") {
    co_await rt.endpoint->handle(req, writer, "");
    co_return;
  }
  if (path.rfind("/mcp/", 0) == 0) {
    auto name = path.substr(5);
    if (gen->router->has_upstream(name)) {
      co_await rt.endpoint->handle(req, writer, name);
      co_return;
    }
  }
  co_await writer.send(net::text_response(http::status::not_found, "not found", req.version()));
}

json::object health_document(Runtime& rt) {
  json::object checks;
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
    checks["upstream:" + name] = json::array{c};
  }
  std::string status = all_up ? "pass" : (any_up ? "warn" : "fail");
  return json::object{{"status", status}, {"checks", checks}};
}

std::string metrics_text(Runtime& rt) {
  std::string out;
  const auto gen = rt.snapshot();
  auto& c = rt.endpoint->counters();
  out += "# HELP bastion_mcp_http_requests_total MCP endpoint requests.\n# TYPE bastion_mcp_http_requests_total counter\n";
  out += "bastion_mcp_http_requests_total " + std::to_string(c.requests.load()) + "\n";
  out += "# HELP bastion_mcp_sessions Live MCP sessions.\n# TYPE bastion_mcp_sessions gauge\n";
  out += "bastion_mcp_sessions " + std::to_string(rt.endpoint->session_count()) + "\n";
  out += "# HELP bastion_interactions_total Interaction records emitted.\n# TYPE bastion_interactions_total counter\n";
  out += "bastion_interactions_total " + std::to_string(rt.records->count.load()) + "\n";
  out += "# HELP bastion_upstream_up Whether an upstream has a ready replica.\n# TYPE bastion_upstream_up gauge\n";
  for (auto& [name, up] : gen->upstreams) {
    out += "bastion_upstream_up{upstream=\"" + name + "\"} " + (up->status().up ? "1" : "0") + "\n";
  }
  out += "# HELP bastion_upstream_restarts_total Upstream replica restarts.\n# TYPE bastion_upstream_restarts_total counter\n";
  for (auto& [name, up] : gen->upstreams) {
    out += "bastion_upstream_restarts_total{upstream=\"" + name + "\",reason=\"exit\"} " +
           std::to_string(up->status().restarts) + "\n";
  }
  out += "# HELP bastion_requests_rejected_total Requests rejected by a guard.\n# TYPE bastion_requests_rejected_total counter\n";
  for (auto& [reason, n] : rt.rejections.snapshot()) {
    out += "bastion_requests_rejected_total{reason=\"" + reason + "\"} " + std::to_string(n) + "\n";
  }
  return out;
}

asio::awaitable<void> admin_handler(Runtime& rt, net::Request& req, net::ResponseWriter& writer,
                                    const net::ConnectionInfo&) {
  auto path = path_of(req);
  if (path == "/healthz") {
    auto doc = health_document(rt);
    auto status = doc["status"] == "fail" ? http::status::service_unavailable : http::status::ok;
    co_await writer.send(json_reply(status, doc, "application/health+json"));
  } else if (path == "/readyz") {
    bool ready = rt.ready.load();
    bool any = false;
    for (auto& [n, up] : rt.snapshot()->upstreams) any = any || up->status().up;
    co_await writer.send(readiness_reply(ready && any));
  } else if (path == "/metrics") {
    net::Response res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = metrics_text(rt);
    co_await writer.send(std::move(res));
  } else {
    co_await writer.send(net::text_response(http::status::not_found, "not found", req.version()));
  }
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
  auto next = std::make_shared<Generation>();
  next->config = std::move(*loaded.config);
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
  next->router = std::make_shared<mcp::Router>(c, next->upstreams, rt.records);
  next->guards = guard::GuardChain::standard(c);
  rt.install(next);
  rt.endpoint->replace_router(next->router);
  spdlog::set_level(spdlog::level::from_str(c.log.level));
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
    auto gen = std::make_shared<Generation>();
    gen->config = config;
    for (const auto& u : config.upstreams) {
      gen->upstreams[u.name] = std::make_shared<upstream::Upstream>(ioc.get_executor(), u);
    }
    gen->router = std::make_shared<mcp::Router>(config, gen->upstreams, rt.records);
    gen->guards = guard::GuardChain::standard(config);
    rt.endpoint = std::make_shared<mcp::StreamableHttpEndpoint>(config, gen->router);
    rt.install(gen);
  }

  rt.public_server = std::make_shared<net::HttpServer>(
      ioc, "public", limits_from(config),
      [&rt](net::Request& r, net::ResponseWriter& w, const net::ConnectionInfo& c) {
        return public_handler(rt, r, w, c);
      });
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
          return admin_handler(rt, r, w, c);
        });
    auto bound = rt.admin_server->bind(config.listen.admin->address);
    if (!bound) {
      spdlog::critical("cannot listen on {}: {}", config.listen.admin->address, bound.error().message());
      return 1;
    }
    admin_ep = *bound;
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

  asio::signal_set signals(ioc, SIGINT, SIGTERM, SIGHUP);
  std::function<void()> wait_signal;
  auto shutdown = [&]() -> asio::awaitable<void> {
    spdlog::info("shutting down: draining for up to {} ms", config.shutdown_grace.count());
    rt.ready = false;
    co_await rt.public_server->shutdown(config.shutdown_grace);
    if (rt.admin_server) co_await rt.admin_server->shutdown(std::chrono::milliseconds(500));
    co_await rt.endpoint->close_all_sessions();
    for (auto& [n, up] : rt.snapshot()->upstreams) co_await up->stop();
    ioc.stop();
  };
  wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
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
        rt.ready = true;
        if (ready_out) {
          *ready_out << ready_document(*public_ep, admin_ep) << std::endl;
          ready_out.reset();
        }
        spdlog::info("bastion serving MCP on http://{}/mcp (admin {})", endpoint_text(*public_ep),
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
