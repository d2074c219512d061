#pragma once
// Internal to the config loader: the YAML walker that collects "FILE:LINE: message" errors, and
// the readers of each top-level section (one file per group of sections).
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <string>

#include "core/config.hpp"
#include "core/units.hpp"

namespace bastion::core::detail {

// Walks YAML nodes, collecting "FILE:LINE: message" errors instead of stopping at the first.
class Reader {
 public:
  Reader(std::string source, ConfigErrors& errors) : source_(std::move(source)), errors_(errors) {}

  void error(const YAML::Node& at, const std::string& message) {
    int line = at.Mark().line >= 0 ? at.Mark().line + 1 : 0;
    errors_.messages.push_back(source_ + ":" + std::to_string(line) + ": " + message);
  }

  // Every key of `map` must be in `allowed`; reports unknown ones.
  bool expect_map(const YAML::Node& node, const std::string& path,
                  std::initializer_list<std::string_view> allowed) {
    if (!node.IsMap()) {
      error(node, path + ": expected a mapping");
      return false;
    }
    for (const auto& kv : node) {
      auto key = kv.first.Scalar();
      bool known = false;
      for (auto a : allowed) known = known || a == key;
      if (!known) error(kv.first, "unknown key '" + (path.empty() ? key : path + "." + key) + "'");
    }
    return true;
  }

  std::optional<std::string> string(const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar()) {
      error(node, path + ": expected a string");
      return std::nullopt;
    }
    return node.Scalar();
  }

  void read(const YAML::Node& node, const std::string& path, std::string& out) {
    if (auto v = string(node, path)) out = *v;
  }

  void read(const YAML::Node& node, const std::string& path, bool& out) {
    auto v = string(node, path);
    if (!v) return;
    if (*v == "true" || *v == "yes" || *v == "on") out = true;
    else if (*v == "false" || *v == "no" || *v == "off") out = false;
    else error(node, path + ": expected true or false, got '" + *v + "'");
  }

  template <class Int>
  void read_int(const YAML::Node& node, const std::string& path, Int& out, Int min, Int max) {
    auto v = string(node, path);
    if (!v) return;
    try {
      std::size_t used = 0;
      long long parsed = std::stoll(*v, &used);
      if (used != v->size() || parsed < static_cast<long long>(min) ||
          parsed > static_cast<long long>(max)) {
        throw std::out_of_range("range");
      }
      out = static_cast<Int>(parsed);
    } catch (const std::exception&) {
      error(node, path + ": expected an integer between " + std::to_string(min) + " and " +
                      std::to_string(max) + ", got '" + *v + "'");
    }
  }

  void read_duration(const YAML::Node& node, const std::string& path, milliseconds& out) {
    auto v = string(node, path);
    if (!v) return;
    if (auto d = parse_duration(*v)) out = *d;
    else error(node, path + ": expected a duration such as 250ms, 10s or 5m, got '" + *v + "'");
  }

  void read_size(const YAML::Node& node, const std::string& path, std::uint64_t& out) {
    auto v = string(node, path);
    if (!v) return;
    if (auto s = parse_size(*v)) out = *s;
    else error(node, path + ": expected a size such as 4MiB or 512KiB, got '" + *v + "'");
  }

  void read_list(const YAML::Node& node, const std::string& path, std::vector<std::string>& out) {
    if (!node.IsSequence()) {
      error(node, path + ": expected a list");
      return;
    }
    out.clear();
    for (const auto& item : node) {
      if (auto v = string(item, path + "[]")) out.push_back(*v);
    }
  }

  void read_string_map(const YAML::Node& node, const std::string& path,
                       std::map<std::string, std::string>& out) {
    if (!node.IsMap()) {
      error(node, path + ": expected a mapping");
      return;
    }
    for (const auto& kv : node) {
      if (auto v = string(kv.second, path + "." + kv.first.Scalar())) out[kv.first.Scalar()] = *v;
    }
  }

 private:
  std::string source_;
  ConfigErrors& errors_;
};


bool valid_address(const std::string& address);

// config_sections.cpp
void read_listen(Reader& r, const YAML::Node& node, Config& c);
void read_headers(Reader& r, const YAML::Node& node, SecurityHeadersConfig& out);
void read_rate_limits(Reader& r, const YAML::Node& node, std::vector<RateLimitZoneConfig>& out);
void read_auth(Reader& r, const YAML::Node& node, AuthConfig& out);
void read_store(Reader& r, const YAML::Node& node, StoreConfig& out);
void read_redis(Reader& r, const YAML::Node& node, std::optional<RedisConfig>& out);
void read_telemetry(Reader& r, const YAML::Node& node, std::optional<TelemetryConfig>& out);
void read_tags(Reader& r, const YAML::Node& node, TagsConfig& out);
void read_monitoring(Reader& r, const YAML::Node& node, MonitoringConfig& out);
void read_rlimits(Reader& r, const YAML::Node& node, const std::string& path, UpstreamConfig::Rlimits& out);

}  // namespace bastion::core::detail
