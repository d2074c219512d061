// Typed reads of tools/call arguments. A wrong or missing argument is reported by the tool as
// an isError result (MCP 2025-11-25: input validation failures are tool errors, not protocol
// errors), so these return nullopt rather than failing the request.
#pragma once

#include <boost/json.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace bastion::demo {

namespace json = boost::json;

inline std::optional<std::string_view> string_arg(const json::object& args, std::string_view name) {
  const json::value* value = args.if_contains(name);
  if (value == nullptr || !value->is_string()) {
    return std::nullopt;
  }
  return std::string_view(value->get_string());
}

// Integral JSON numbers only (3 and 3.0 are accepted, 3.5 is not).
inline std::optional<std::int64_t> as_integer(const json::value& value) {
  if (value.is_int64()) {
    return value.get_int64();
  }
  if (value.is_uint64()) {
    if (value.get_uint64() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(value.get_uint64());
  }
  if (value.is_double()) {
    const double d = value.get_double();
    if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9.0e15) {
      return static_cast<std::int64_t>(d);
    }
  }
  return std::nullopt;
}

inline std::optional<double> as_number(const json::value& value) {
  if (value.is_int64()) {
    return static_cast<double>(value.get_int64());
  }
  if (value.is_uint64()) {
    return static_cast<double>(value.get_uint64());
  }
  if (value.is_double() && std::isfinite(value.get_double())) {
    return value.get_double();
  }
  return std::nullopt;
}

}  // namespace bastion::demo
