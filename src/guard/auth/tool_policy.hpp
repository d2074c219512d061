#pragma once
// Which tools a principal may see and call. Patterns are exact exposed tool names or simple
// globs where '*' matches any run of characters ("demo__*", "*__read_*"). No Asio here.
#include <boost/json/array.hpp>
#include <cstddef>
#include <string_view>

#include "guard/auth/principal.hpp"

namespace bastion::guard::auth {

// '*' matches any (possibly empty) sequence; every other character matches itself.
bool glob_match(std::string_view pattern, std::string_view name);

// True when principal.tools is empty (all tools) or one of its patterns matches.
bool tool_allowed(const Principal& principal, std::string_view exposed_tool_name);

// Removes from a tools/list "tools" array every entry the principal may not call, so denied
// tools never leak. Entries that are not objects with a string "name" are removed too (fail
// closed). Returns how many were removed.
std::size_t filter_tools_list(const Principal& principal, boost::json::array& tools);

}  // namespace bastion::guard::auth
