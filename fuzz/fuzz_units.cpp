// Durations, sizes, ratios and request rates as written in configuration files.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/units.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace bastion::core;
  if (auto d = parse_duration(text); d && d->count() < 0) std::abort();
  (void)parse_size(text);
  if (auto r = parse_ratio(text); r && (*r < 0 || *r > 1)) std::abort();
  if (auto q = parse_request_rate(text); q && !(*q > 0)) std::abort();
  return 0;
}
