#include "guard/auth/tool_policy.hpp"

#include <boost/json.hpp>

namespace bastion::guard::auth {

bool glob_match(std::string_view pattern, std::string_view name) {
  // Greedy match with one backtrack point (the last '*'): linear-ish, no recursion, so a hostile
  // pattern or name cannot blow the stack or go exponential.
  std::size_t p = 0, n = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool tool_allowed(const Principal& principal, std::string_view exposed_tool_name) {
  if (principal.tools.empty()) return true;
  if (exposed_tool_name.empty()) return false;
  for (const auto& pattern : principal.tools) {
    if (glob_match(pattern, exposed_tool_name)) return true;
  }
  return false;
}

std::size_t filter_tools_list(const Principal& principal, boost::json::array& tools) {
  std::size_t removed = 0;
  for (auto it = tools.begin(); it != tools.end();) {
    const auto* obj = it->if_object();
    const auto* name = obj != nullptr ? obj->if_contains("name") : nullptr;
    const bool keep = name != nullptr && name->is_string() && tool_allowed(principal, name->get_string());
    if (keep) {
      ++it;
    } else {
      it = tools.erase(it);
      ++removed;
    }
  }
  return removed;
}

}  // namespace bastion::guard::auth
