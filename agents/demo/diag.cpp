#include "demo/diag.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace bastion::demo {
namespace {

std::atomic<int> g_threshold{static_cast<int>(DiagLevel::warn)};
std::mutex g_stderr_mutex;

constexpr const char* kNames[] = {"debug", "info", "warn", "error"};

}  // namespace

void init_diagnostics() {
  const char* configured = std::getenv("BASTION_DEMO_LOG");
  if (configured == nullptr) {
    return;
  }
  const std::string value(configured);
  for (int i = 0; i < 4; ++i) {
    if (value == kNames[i]) {
      g_threshold = i;
    }
  }
}

void diag(DiagLevel level, std::string_view message) {
  if (static_cast<int>(level) < g_threshold.load()) {
    return;
  }
  std::lock_guard lock(g_stderr_mutex);
  std::fprintf(stderr, "bastion-demo-agent %s: %.*s\n", kNames[static_cast<int>(level)],
               static_cast<int>(message.size()), message.data());
}

}  // namespace bastion::demo
