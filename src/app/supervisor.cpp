#include "app/supervisor.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>

#include "observe/process_group_sampler.hpp"
#include "upstream/http_link.hpp"

namespace bastion::app {

namespace asio = boost::asio;
using namespace std::chrono_literals;

std::string alert_name(const std::string& condition) {
  static const std::map<std::string, std::string> names{
      {"memory", "BastionUpstreamMemoryHigh"},       {"memory_forecast", "BastionUpstreamMemoryGrowth"},
      {"latency", "BastionUpstreamLatencyHigh"},     {"latency_forecast", "BastionUpstreamLatencyRising"},
      {"queueing", "BastionUpstreamQueueing"},       {"error_rate", "BastionUpstreamErrorRate"}};
  auto it = names.find(condition);
  return it == names.end() ? "BastionUpstream_" + condition : it->second;
}

namespace {

std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", v);
  return buffer;
}

observe::Alert make_alert(const std::string& upstream, const observe::Condition& c, const std::string& action) {
  observe::Alert a;
  a.labels["alertname"] = alert_name(c.name);
  a.labels["upstream"] = upstream;
  a.labels["trigger"] = c.name;
  a.labels["source"] = "bastion";
  a.labels["severity"] = (c.name == "memory" || c.name == "error_rate") ? "critical" : "warning";
  if (c.replica) a.labels["replica"] = std::to_string(*c.replica);
  a.annotations["summary"] = "upstream " + upstream + ": " + c.summary;
  a.annotations["value"] = number(c.value);
  a.annotations["threshold"] = number(c.threshold);
  if (c.seconds_to_threshold) a.annotations["forecast_seconds"] = number(*c.seconds_to_threshold);
  if (!action.empty()) a.annotations["action"] = action;
  return a;
}

std::string action_name(observe::ActionKind kind) {
  switch (kind) {
    case observe::ActionKind::restart_replica: return "restart_service";
    case observe::ActionKind::scale_out: return "scale_out";
    case observe::ActionKind::scale_in: return "scale_in";
  }
  return "unknown";
}

}  // namespace

Supervisor::Supervisor(asio::any_io_executor ex, ConfigSource config, UpstreamSource upstreams,
                       std::shared_ptr<observe::LiveStats> stats, std::string generator_url)
    : ex_(asio::make_strand(ex)),
      config_(std::move(config)),
      upstreams_(std::move(upstreams)),
      stats_(std::move(stats)),
      generator_url_(std::move(generator_url)) {
  net::client::PoolOptions options;
  options.connect_timeout = 3s;
  options.io_timeout = 5s;
  options.max_body_bytes = 64 * 1024;
  options.max_idle_per_origin = 2;
  if (auto pool = net::client::HttpClientPool::create(ex_, options)) pool_ = *pool;
}

void Supervisor::start() {
  if (running_.exchange(true)) return;
  asio::co_spawn(ex_, run(), asio::detached);
}

void Supervisor::stop() { *stopped_ = true; }

asio::awaitable<void> Supervisor::run() {
  auto stopped = stopped_;
  asio::steady_timer timer(ex_);
  while (!*stopped) {
    try {
      co_await tick();
    } catch (const std::exception& e) {  // a supervisor bug must not take the gateway down
      spdlog::error("supervisor: {}", e.what());
    }
    timer.expires_after(config_().monitoring.sample_interval);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

Supervisor::Webhook& Supervisor::webhook(const core::AlertWebhookConfig& config) {
  auto& slot = webhooks_[config.url];
  if (!slot || !(slot->config == config)) {
    auto hook = std::make_unique<Webhook>(Webhook{config, observe::AlertTracker(config.repeat), {}, {}});
    if (config.headers_file) {
      std::string error;
      if (auto headers = upstream::read_headers_file(*config.headers_file, error)) {
        hook->headers = std::move(*headers);
      } else {
        spdlog::error("alert webhook: {}", error);
      }
    }
    if (slot) hook->tracker = std::move(slot->tracker);  // keep what is firing
    slot = std::move(hook);
  }
  return *slot;
}

asio::awaitable<void> Supervisor::tick() {
  const auto config = config_();
  const auto ups = upstreams_();
  const auto now = std::chrono::steady_clock::now();
  const double now_s = std::chrono::duration<double>(now.time_since_epoch()).count();
  static const observe::ProcessGroupSampler sampler;
  std::map<std::string, UpstreamAssessment> next;
  std::vector<std::tuple<std::string, std::string, std::string>> performed;

  for (auto& [url, hook] : webhooks_) hook->holding.clear();
  std::map<std::string, observe::UpstreamTriggers> triggers;
  for (const auto& u : ups) {
    const auto& settings = config.monitoring.for_upstream(u.name);
    auto node = triggers_.extract(u.name);
    observe::UpstreamTriggers evaluator = node ? std::move(node.mapped()) : observe::UpstreamTriggers(settings);
    if (!(evaluator.settings() == settings)) evaluator.reconfigure(settings);

    auto status = u.upstream->status();
    observe::UpstreamObservation o;
    o.now = now_s;
    o.supervised = status.supervised;
    o.in_flight = status.in_flight;
    o.replicas_up = status.replicas_up;
    o.base_replicas = status.base_replicas;
    o.replica_count = status.replicas;
    auto window = std::chrono::duration_cast<std::chrono::seconds>(settings.triggers.window);
    o.window = stats_->upstream_window(u.name, now, window);
    UpstreamAssessment assessment;
    for (std::size_t i = 0; i < status.replica_pgids.size(); ++i) {
      auto pgid = status.replica_pgids[i];
      if (pgid <= 0) continue;
      auto usage = sampler.sample(static_cast<pid_t>(pgid));
      o.replicas.push_back({i, pgid, true, double(usage.rss_bytes)});
      assessment.replica_pids[std::to_string(i)] = static_cast<std::uint64_t>(pgid);
    }
    auto decisions = evaluator.evaluate(o);
    std::map<std::string, std::string> action_taken;  // condition -> what was done
    for (const auto& d : decisions) {
      bool done = false;
      switch (d.kind) {
        case observe::ActionKind::restart_replica:
          done = u.upstream->restart_replica(d.slot, d.reason, settings.actions.drain_grace);
          if (done) action_taken[d.reason] = "replica " + std::to_string(d.slot) + " replaced";
          break;
        case observe::ActionKind::scale_out:
          done = u.upstream->add_replica(settings.actions.max_replicas);
          if (done) action_taken[d.reason] = "replica added";
          break;
        case observe::ActionKind::scale_in:
          done = u.upstream->remove_replica(settings.actions.drain_grace);
          break;
      }
      if (done) {
        performed.emplace_back(u.name, action_name(d.kind), d.reason);
        spdlog::warn("[supervisor] upstream {}: {} ({}{})", u.name, action_name(d.kind), d.reason,
                     d.kind == observe::ActionKind::restart_replica ? ", replica " + std::to_string(d.slot) : "");
      }
    }
    assessment.forecast = evaluator.forecast();
    assessment.conditions = evaluator.conditions();
    assessment.window = o.window;
    if (settings.actions.alert) {
      auto& hook = webhook(*settings.actions.alert);
      for (const auto& c : assessment.conditions) {
        auto taken = action_taken.find(c.name);
        hook.holding.push_back(make_alert(u.name, c, taken == action_taken.end() ? "" : taken->second));
      }
    }
    next[u.name] = std::move(assessment);
    triggers.emplace(u.name, std::move(evaluator));
  }
  triggers_ = std::move(triggers);
  {
    std::lock_guard lock(mutex_);
    assessments_ = std::move(next);
    for (auto& key : performed) ++actions_[key];
  }
  for (auto& [url, hook] : webhooks_) co_await send(*hook);
}

asio::awaitable<void> Supervisor::send(Webhook& hook) {
  auto outgoing = hook.tracker.update(std::chrono::steady_clock::now(), std::chrono::system_clock::now(), hook.holding);
  if (outgoing.empty()) co_return;
  if (!pool_) {
    hook.tracker.failed(outgoing);
    co_return;
  }
  net::client::HttpRequest request;
  request.method = boost::beast::http::verb::post;
  request.url = hook.config.url;
  request.headers = hook.headers;
  request.headers.emplace_back("Content-Type", "application/json");
  request.body = hook.config.format == core::AlertWebhookConfig::Format::alertmanager
                     ? observe::alertmanager_body(outgoing, hook.config.repeat, generator_url_)
                     : observe::plain_json_body(outgoing, generator_url_);
  request.deadline = std::chrono::steady_clock::now() + 5s;
  auto response = co_await pool_->fetch(std::move(request));
  if (response && response->status / 100 == 2) {
    alerts_sent_ += outgoing.size();
    for (const auto& a : outgoing) {
      spdlog::info("[supervisor] alert {} {} sent", a.alert.labels.at("alertname"), a.resolved ? "resolved" : "firing");
    }
    co_return;
  }
  alert_failures_ += 1;
  hook.tracker.failed(outgoing);
  spdlog::warn("[supervisor] alert webhook failed: {}",
               response ? "HTTP " + std::to_string(response->status) : response.error().message());
}

std::map<std::string, UpstreamAssessment> Supervisor::assessments() const {
  std::lock_guard lock(mutex_);
  return assessments_;
}

std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> Supervisor::actions() const {
  std::lock_guard lock(mutex_);
  return actions_;
}

}  // namespace bastion::app
