#pragma once
// Wiring of one running Bastion: listeners, guard chain, MCP endpoint, upstreams, signals.
#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <string>

#include "core/config.hpp"

namespace bastion::app {

struct ServeOptions {
  std::optional<std::string> ready_file;  // written with the bound addresses once serving
  std::optional<std::string> config_path; // for SIGHUP reloads
};

// Runs until SIGTERM/SIGINT; returns the process exit code.
int serve(core::Config config, const ServeOptions& options);

}  // namespace bastion::app
