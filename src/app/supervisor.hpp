#pragma once
// The supervisor: every monitoring.sample_interval it samples each upstream (replica memory from
// /proc, latency and errors from the live windows), runs the triggers, performs their actions
// (replace a replica, add or remove one) and sends alerts to the configured webhooks. It also
// keeps what health and analysis show: the conditions that hold and the forecasts.
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "net/client/http_client.hpp"
#include "observe/alert_payload.hpp"
#include "observe/live_stats.hpp"
#include "observe/triggers.hpp"
#include "upstream/upstream.hpp"

namespace bastion::app {

struct SupervisedUpstream {
  std::string name;
  std::shared_ptr<upstream::Upstream> upstream;
};

// What health and analysis read: one entry per upstream, as of the last sample.
struct UpstreamAssessment {
  observe::UpstreamForecast forecast;
  std::vector<observe::Condition> conditions;
  observe::WindowSummary window;
  std::map<std::string, std::uint64_t> replica_pids;  // "slot" -> pid, for the analysis
};

class Supervisor {
 public:
  using UpstreamSource = std::function<std::vector<SupervisedUpstream>()>;
  using ConfigSource = std::function<core::Config()>;

  Supervisor(boost::asio::any_io_executor ex, ConfigSource config, UpstreamSource upstreams,
             std::shared_ptr<observe::LiveStats> stats, std::string generator_url);

  void start();
  void stop();

  std::map<std::string, UpstreamAssessment> assessments() const;
  // Counters for /metrics.
  std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> actions() const;  // upstream, action, reason
  std::uint64_t alerts_sent() const { return alerts_sent_.load(); }
  std::uint64_t alert_failures() const { return alert_failures_.load(); }

  // One sample and evaluation now (also what the loop does each interval).
  boost::asio::awaitable<void> tick();

 private:
  struct Webhook {
    core::AlertWebhookConfig config;
    observe::AlertTracker tracker;
    std::vector<std::pair<std::string, std::string>> headers;
    std::vector<observe::Alert> holding;
  };
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> send(Webhook& hook);
  Webhook& webhook(const core::AlertWebhookConfig& config);

  boost::asio::any_io_executor ex_;
  ConfigSource config_;
  UpstreamSource upstreams_;
  std::shared_ptr<observe::LiveStats> stats_;
  std::string generator_url_;
  std::shared_ptr<net::client::HttpClientPool> pool_;
  std::map<std::string, observe::UpstreamTriggers> triggers_;  // touched by tick() only
  std::map<std::string, std::unique_ptr<Webhook>> webhooks_;   // by URL
  std::atomic<bool> running_{false};
  std::shared_ptr<std::atomic<bool>> stopped_ = std::make_shared<std::atomic<bool>>(false);

  mutable std::mutex mutex_;
  std::map<std::string, UpstreamAssessment> assessments_;
  std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> actions_;
  std::atomic<std::uint64_t> alerts_sent_{0}, alert_failures_{0};
};

// The alert name of a trigger condition (the same names as deploy/prometheus/alerts.yml where the
// rule exists there).
std::string alert_name(const std::string& condition);

}  // namespace bastion::app
