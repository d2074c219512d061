#pragma once
// Naming rules of the federated endpoint: "<upstream><sep><name>" prefixes, per-upstream
// include/exclude/rename filters, applied the same way to lists and to calls. Pure functions.
#include <boost/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace bastion::mcp {

namespace json = boost::json;

class Federation {
 public:
  Federation(core::FederationConfig config, std::vector<core::UpstreamConfig> upstreams);

  bool prefixed() const { return prefixed_; }
  // The name a client sees for an upstream's tool/prompt, or nullopt when filtered out.
  std::optional<std::string> expose(const std::string& upstream, const std::string& name,
                                    bool is_tool) const;
  struct Target {
    std::string upstream;
    std::string name;  // the upstream's own name
  };
  // Resolves a client-visible name back to its upstream and original name.
  std::optional<Target> resolve(const std::string& exposed, bool is_tool) const;
  // Rewrites items[].name of a list result from `upstream`, dropping filtered ones.
  json::array expose_list(const std::string& upstream, const json::array& items, bool is_tool) const;
  const std::vector<std::string>& upstream_names() const { return names_; }

 private:
  const core::UpstreamConfig* find(const std::string& upstream) const;

  core::FederationConfig config_;
  std::vector<core::UpstreamConfig> upstreams_;
  std::vector<std::string> names_;
  bool prefixed_;
};

}  // namespace bastion::mcp
