#pragma once
// Naming rules of the federated endpoint: "<upstream><sep><name>" prefixes, per-upstream
// include/exclude/rename filters, applied the same way to lists and to calls. Pure functions.
#include <boost/json.hpp>
#include <map>
#include <memory>
#include <mutex>
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

// The federated list of one kind (tools, prompts, resources, templates): every upstream's catalog
// merged and exposed (prefixes, filters, renames), rebuilt only when some catalog changed.
// Upstream catalogs are immutable and replaced when an upstream says its list changed, so the
// same pointers mean the same lists; the cache holds them, so no new catalog can reuse an
// address. It holds what the configuration exposes to everybody: per-caller allowlists are
// applied to each reply afterwards, never cached here.
class MergedCatalogs {
 public:
  using Catalog = std::shared_ptr<const json::array>;
  // catalogs[i] belongs to federation.upstream_names()[i]; a null one (the upstream could not
  // answer) is left out and the result is not kept, so the next list asks again.
  std::shared_ptr<const json::array> merge(const Federation& federation, const std::string& kind,
                                           const std::vector<Catalog>& catalogs);

 private:
  struct Entry {
    std::vector<Catalog> sources;
    std::shared_ptr<const json::array> items;
  };
  std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace bastion::mcp
