#include "mcp/server/federation.hpp"

#include <algorithm>

namespace bastion::mcp {

Federation::Federation(core::FederationConfig config, std::vector<core::UpstreamConfig> upstreams)
    : config_(std::move(config)), upstreams_(std::move(upstreams)) {
  for (const auto& u : upstreams_) names_.push_back(u.name);
  using P = core::FederationConfig::Prefix;
  prefixed_ = config_.prefix == P::always || (config_.prefix == P::automatic && upstreams_.size() > 1);
}

const core::UpstreamConfig* Federation::find(const std::string& upstream) const {
  for (const auto& u : upstreams_) {
    if (u.name == upstream) return &u;
  }
  return nullptr;
}

std::optional<std::string> Federation::expose(const std::string& upstream, const std::string& name,
                                              bool is_tool) const {
  const auto* u = find(upstream);
  if (!u) return std::nullopt;
  std::string visible = name;
  if (is_tool) {
    const auto& f = u->tools;
    if (!f.include.empty() && std::find(f.include.begin(), f.include.end(), name) == f.include.end())
      return std::nullopt;
    if (std::find(f.exclude.begin(), f.exclude.end(), name) != f.exclude.end()) return std::nullopt;
    if (auto it = f.rename.find(name); it != f.rename.end()) visible = it->second;
  }
  if (prefixed_) visible = upstream + config_.separator + visible;
  return visible;
}

std::optional<Federation::Target> Federation::resolve(const std::string& exposed, bool is_tool) const {
  std::string upstream, visible;
  if (prefixed_) {
    auto pos = exposed.find(config_.separator);
    if (pos == std::string::npos) return std::nullopt;
    upstream = exposed.substr(0, pos);
    visible = exposed.substr(pos + config_.separator.size());
  } else {
    if (upstreams_.empty()) return std::nullopt;
    if (upstreams_.size() == 1) {
      upstream = upstreams_.front().name;
      visible = exposed;
    } else {
      return std::nullopt;  // unprefixed with several upstreams: the caller searches catalogs
    }
  }
  const auto* u = find(upstream);
  if (!u) return std::nullopt;
  std::string original = visible;
  if (is_tool) {
    for (const auto& [from, to] : u->tools.rename) {
      if (to == visible) original = from;
    }
    if (original == visible && u->tools.rename.count(visible)) return std::nullopt;  // renamed away
  }
  // The name must survive the same filter on the way back, or it is not callable.
  auto check = expose(upstream, original, is_tool);
  if (!check || *check != exposed) return std::nullopt;
  return Target{upstream, original};
}

json::array Federation::expose_list(const std::string& upstream, const json::array& items,
                                    bool is_tool) const {
  json::array out;
  for (const auto& item : items) {
    const auto* obj = item.if_object();
    if (!obj) continue;
    const auto* name = obj->if_contains("name");
    if (!name || !name->is_string()) continue;
    auto visible = expose(upstream, std::string(name->get_string()), is_tool);
    if (!visible) continue;
    json::object copy = *obj;
    copy["name"] = *visible;
    out.push_back(std::move(copy));
  }
  return out;
}

std::shared_ptr<const json::array> MergedCatalogs::merge(const Federation& federation, const std::string& kind,
                                                         const std::vector<Catalog>& catalogs) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(kind); it != entries_.end() && it->second.sources == catalogs) return it->second.items;
  }
  const auto& names = federation.upstream_names();
  const bool named = kind == "tools" || kind == "prompts";
  json::array all;
  bool complete = catalogs.size() == names.size();
  for (std::size_t i = 0; i < catalogs.size() && i < names.size(); ++i) {
    if (!catalogs[i]) {
      complete = false;
      continue;
    }
    if (named) {
      for (auto& item : federation.expose_list(names[i], *catalogs[i], kind == "tools")) all.push_back(std::move(item));
    } else {
      for (const auto& item : *catalogs[i]) all.push_back(item);
    }
  }
  auto items = std::make_shared<const json::array>(std::move(all));
  if (complete) {
    std::lock_guard lock(mutex_);
    entries_[kind] = Entry{catalogs, items};
  }
  return items;
}

}  // namespace bastion::mcp
