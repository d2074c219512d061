// bastion-demo-agent: the stdio MCP server shipped with Bastion for the quick start and tests.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "demo/diag.hpp"
#include "demo/protocol.hpp"
#include "demo/server.hpp"

namespace {

constexpr std::string_view kUsage =
    "usage: bastion-demo-agent [--help] [--version] [--stateless-only]\n"
    "\n"
    "A stdio MCP server: newline-delimited JSON-RPC on stdin/stdout, diagnostics on stderr.\n"
    "Speaks protocol versions 2025-03-26, 2025-06-18, 2025-11-25 (initialize) and 2026-07-28\n"
    "(stateless, per-request _meta) on the same connection; --stateless-only refuses the\n"
    "initialize-based versions, like a server written for 2026-07-28 alone.\n"
    "\n"
    "Tools: echo, contradict, slow, fail, leak, and the MCP conformance fixtures (test_*).\n"
    "\n"
    "Environment:\n"
    "  BASTION_DEMO_LOG               stderr verbosity: debug|info|warn|error (default warn)\n"
    "  BASTION_DEMO_INPUT_TIMEOUT_MS  wait for a client's sampling/elicitation/roots answer\n"
    "                                 (1..600000, default 60000)\n";

// Optional positive integer from the environment, bounded; the default otherwise.
long env_millis(const char* name, long fallback, long maximum) {
  const char* raw = std::getenv(name);
  if (raw == nullptr) {
    return fallback;
  }
  char* end = nullptr;
  const long value = std::strtol(raw, &end, 10);
  if (end == raw || *end != '\0' || value < 1 || value > maximum) {
    bastion::demo::diag(bastion::demo::DiagLevel::warn,
                        std::string("ignoring out-of-range ") + name);
    return fallback;
  }
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
      return 0;
    }
    if (arg == "--version") {
      std::printf("%.*s %.*s\n", static_cast<int>(bastion::demo::protocol::kServerName.size()),
                  bastion::demo::protocol::kServerName.data(),
                  static_cast<int>(bastion::demo::protocol::kServerVersion.size()),
                  bastion::demo::protocol::kServerVersion.data());
      return 0;
    }
    if (arg == "--stateless-only") {
      bastion::demo::protocol::set_stateless_only(true);
      continue;
    }
    std::fprintf(stderr, "bastion-demo-agent: unknown argument %s\n%.*s", argv[i],
                 static_cast<int>(kUsage.size()), kUsage.data());
    return 2;
  }

  // A vanished client must surface as EPIPE on write, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  bastion::demo::init_diagnostics();

  bastion::demo::ServerOptions options;
  options.session.input_timeout =
      std::chrono::milliseconds(env_millis("BASTION_DEMO_INPUT_TIMEOUT_MS", 60000, 600000));
  bastion::demo::Server server(STDIN_FILENO, STDOUT_FILENO, options);
  return server.run();
}
