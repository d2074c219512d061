#include "observe/alert_payload.hpp"

#include <boost/json.hpp>
#include <ctime>

namespace bastion::observe {

namespace json = boost::json;
using SystemClock = std::chrono::system_clock;

std::string Alert::key() const {
  std::string k;
  for (const auto& [name, value] : labels) {
    k.append(name).push_back('\x1f');
    k.append(value).push_back('\x1e');
  }
  return k;
}

std::vector<OutgoingAlert> AlertTracker::update(std::chrono::steady_clock::time_point now,
                                                SystemClock::time_point wall, const std::vector<Alert>& holding) {
  std::vector<OutgoingAlert> out = std::move(pending_resolved_);
  pending_resolved_.clear();
  std::map<std::string, State> next;
  for (const auto& alert : holding) {
    auto key = alert.key();
    if (next.count(key)) continue;
    auto it = firing_.find(key);
    State state = it != firing_.end() ? std::move(it->second) : State{alert, wall, now, true};
    state.alert.annotations = alert.annotations;  // the latest figures
    if (state.due || now - state.last_sent >= repeat_) {
      out.push_back({state.alert, state.started, false, {}});
      state.last_sent = now;
      state.due = false;
    }
    next.emplace(std::move(key), std::move(state));
  }
  for (auto& [key, state] : firing_) {
    if (!next.count(key)) out.push_back({std::move(state.alert), state.started, true, wall});
  }
  firing_ = std::move(next);
  return out;
}

void AlertTracker::failed(const std::vector<OutgoingAlert>& alerts) {
  for (const auto& a : alerts) {
    if (a.resolved) {
      if (pending_resolved_.size() < kMaxPendingResolved) pending_resolved_.push_back(a);
    } else if (auto it = firing_.find(a.alert.key()); it != firing_.end()) {
      it->second.due = true;
    }
  }
}

std::string rfc3339(SystemClock::time_point at) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  if (ms < 0 && ms % 1000) --secs;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buffer[40];
  std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buffer + n, sizeof buffer - n, ".%03dZ", static_cast<int>(((ms % 1000) + 1000) % 1000));
  return buffer;
}

namespace {
json::object string_map(const std::map<std::string, std::string>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}
}  // namespace

std::string alertmanager_body(const std::vector<OutgoingAlert>& alerts, std::chrono::milliseconds repeat,
                              const std::string& generator_url) {
  json::array body;
  auto now = SystemClock::now();
  for (const auto& a : alerts) {
    json::object o;
    o["labels"] = string_map(a.alert.labels);
    o["annotations"] = string_map(a.alert.annotations);
    o["startsAt"] = rfc3339(a.starts_at);
    o["endsAt"] = rfc3339(a.resolved ? a.ends_at : now + 4 * repeat);
    if (!generator_url.empty()) o["generatorURL"] = generator_url;
    body.push_back(std::move(o));
  }
  return json::serialize(body);
}

std::string plain_json_body(const std::vector<OutgoingAlert>& alerts, const std::string& generator_url) {
  json::array list;
  bool any_firing = false;
  for (const auto& a : alerts) {
    json::object o;
    o["status"] = a.resolved ? "resolved" : "firing";
    o["labels"] = string_map(a.alert.labels);
    o["annotations"] = string_map(a.alert.annotations);
    o["startsAt"] = rfc3339(a.starts_at);
    o["endsAt"] = a.resolved ? rfc3339(a.ends_at) : "0001-01-01T00:00:00Z";
    if (!generator_url.empty()) o["generatorURL"] = generator_url;
    o["fingerprint"] = std::to_string(std::hash<std::string>{}(a.alert.key()));
    any_firing = any_firing || !a.resolved;
    list.push_back(std::move(o));
  }
  json::object doc{{"version", "4"}, {"source", "bastion"}, {"status", any_firing ? "firing" : "resolved"}};
  doc["alerts"] = std::move(list);
  return json::serialize(doc);
}

}  // namespace bastion::observe
