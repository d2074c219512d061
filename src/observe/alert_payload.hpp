#pragma once
// Alerts Bastion sends itself (monitoring.actions.alert_admin): which to send when, and the body.
// AlertTracker de-duplicates: an alert is sent when it starts, again every `repeat` while it holds
// (Alertmanager forgets alerts that are not re-sent), and once more as resolved when it stops.
// Two bodies: Alertmanager's API v2 (POST /api/v2/alerts: a JSON array of alerts with labels,
// annotations, startsAt, endsAt, generatorURL), and a plain JSON document shaped like
// Alertmanager's own webhook (version, status, alerts). Pure logic, not thread-safe.
#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace bastion::observe {

struct Alert {
  std::map<std::string, std::string> labels;       // alertname, upstream, severity, ...
  std::map<std::string, std::string> annotations;  // summary, ...
  std::string key() const;                         // identity: the labels
};

struct OutgoingAlert {
  Alert alert;
  std::chrono::system_clock::time_point starts_at;
  bool resolved = false;
  std::chrono::system_clock::time_point ends_at;  // resolved: when it stopped
};

class AlertTracker {
 public:
  static constexpr std::size_t kMaxPendingResolved = 1000;
  explicit AlertTracker(std::chrono::milliseconds repeat) : repeat_(repeat) {}

  // `holding`: every alert whose condition holds now. Returns what to send now.
  std::vector<OutgoingAlert> update(std::chrono::steady_clock::time_point now,
                                    std::chrono::system_clock::time_point wall, const std::vector<Alert>& holding);
  // A send failed: firing alerts go again at the next update, resolutions too.
  void failed(const std::vector<OutgoingAlert>& alerts);
  std::size_t firing() const { return firing_.size(); }

 private:
  struct State {
    Alert alert;
    std::chrono::system_clock::time_point started;
    std::chrono::steady_clock::time_point last_sent;
    bool due = true;
  };
  std::chrono::milliseconds repeat_;
  std::map<std::string, State> firing_;
  std::vector<OutgoingAlert> pending_resolved_;
};

// RFC 3339 UTC with milliseconds: 2026-11-28T21:06:58.123Z
std::string rfc3339(std::chrono::system_clock::time_point at);

// Alertmanager API v2. A firing alert's endsAt lies 4 repeats ahead (as Prometheus does), so
// Alertmanager resolves it by itself should Bastion stop sending.
std::string alertmanager_body(const std::vector<OutgoingAlert>& alerts, std::chrono::milliseconds repeat,
                              const std::string& generator_url);
// Plain JSON: {"version":"4","source":"bastion","status":"firing|resolved","alerts":[...]}.
std::string plain_json_body(const std::vector<OutgoingAlert>& alerts, const std::string& generator_url);

}  // namespace bastion::observe
