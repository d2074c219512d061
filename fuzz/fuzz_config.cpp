// The YAML configuration loader: any text gives a config or FILE:LINE errors, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto result = bastion::core::load_config_text(text, "fuzz.yaml");
  if (!result.config && result.errors.messages.empty()) std::abort();  // refused without a reason
  for (const auto& m : result.errors.messages) {
    if (m.rfind("fuzz.yaml:", 0) != 0) std::abort();  // every error names FILE:LINE
  }
  return 0;
}
