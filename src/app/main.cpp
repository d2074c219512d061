// bastion: the command line. Thin: parse, load config, hand over to the module that does the job.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>

#include "app/analyze_command.hpp"
#include "app/gateway.hpp"
#include "app/health_probe.hpp"
#include "app/recording.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "guard/auth/token_store.hpp"

namespace {

constexpr const char* version = "0.1.0";

// The demo agent ships next to the bastion binary; fall back to PATH.
std::string demo_agent_command() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    // Installed side by side, or the build tree (build/<preset>/src/app/bastion).
    auto build_root = self.parent_path().parent_path().parent_path();
    for (auto candidate : {self.parent_path() / "bastion-demo-agent",
                           build_root / "agents" / "demo" / "bastion-demo-agent"}) {
      if (std::filesystem::exists(candidate, ec)) return candidate.string();
    }
  }
  return "bastion-demo-agent";
}

void print_errors(const bastion::core::ConfigErrors& errors) {
  for (const auto& m : errors.messages) std::cerr << m << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Bastion: a hardened, observable front door for MCP agents"};
  app.require_subcommand(1);

  std::string config_file, mcp_config, ready_file;
  auto* serve = app.add_subcommand("serve", "Run the gateway (no -c: embedded quick start)");
  serve->add_option("-c,--config", config_file, "YAML configuration file")->check(CLI::ExistingFile);
  serve->add_option("--mcp-config", mcp_config, "Import upstreams from a {\"mcpServers\": {...}} file")
      ->check(CLI::ExistingFile);
  serve->add_option("--ready-file", ready_file, "Write the bound addresses here once serving");

  std::string check_file;
  auto* check = app.add_subcommand("check-config", "Validate a configuration file");
  check->add_option("-c,--config", check_file, "YAML configuration file")->required();

  std::string health_url;
  auto* health = app.add_subcommand("health", "Exit 0 when URL answers a passing health check");
  health->add_option("url", health_url, "e.g. http://127.0.0.1:8123/healthz")->required();

  auto* ver = app.add_subcommand("version", "Print the version");

  bastion::guard::auth::TokenCreateOptions token_options;
  auto* token = app.add_subcommand("token", "Manage bearer tokens");
  token->require_subcommand(1);
  auto* token_create = token->add_subcommand("create", "Create a token: printed once, only its salted hash is kept");
  token_create->add_option("name", token_options.name, "Who the token is for (shown in logs and records)")->required();
  token_create->add_option("--tokens-file", token_options.tokens_file, "Tokens file (created 0600 if missing)")->required();
  token_create->add_option("--scopes", token_options.scopes, "Scopes, comma-separated")->delimiter(',');
  token_create->add_option("--tools", token_options.tools, "Allowed tools (exact or glob, e.g. demo__*), comma-separated")
      ->delimiter(',');

  std::string export_config, export_out, export_since, export_until;
  auto* dataset = app.add_subcommand("dataset", "Fine-tuning datasets from the interaction log");
  dataset->require_subcommand(1);
  auto* dataset_export = dataset->add_subcommand("export", "Write the four JSONL datasets and manifest.json");
  dataset_export->add_option("-c,--config", export_config, "YAML configuration file (its store is read)")
      ->check(CLI::ExistingFile);
  dataset_export->add_option("--out", export_out, "Output directory")->required();
  dataset_export->add_option("--since", export_since, "Only records at or after this time (RFC 3339)");
  dataset_export->add_option("--until", export_until, "Only records before this time (RFC 3339)");

  std::string analyze_config;
  bastion::app::AnalyzeOptions analyze_options;
  auto* analyze = app.add_subcommand("analyze", "Bottleneck report: slowest agent and tool, memory pressure, error patterns");
  analyze->add_option("-c,--config", analyze_config, "YAML configuration file (its admin listener, else its store)")
      ->check(CLI::ExistingFile);
  analyze->add_option("--window", analyze_options.window, "How far back to look, e.g. 30m, 1h, 7d")
      ->capture_default_str();
  analyze->add_flag("--json", analyze_options.json, "Print the report as JSON");

  CLI11_PARSE(app, argc, argv);

  if (ver->parsed()) {
    std::cout << "bastion " << version << "\n";
    return 0;
  }
  if (health->parsed()) return bastion::app::probe_health(health_url);
  if (token_create->parsed()) return bastion::guard::auth::run_token_create(token_options, std::cout, std::cerr);
  if (check->parsed()) {
    auto loaded = bastion::core::load_config_file(check_file);
    if (!loaded.config) {
      print_errors(loaded.errors);
      return 2;
    }
    std::cout << check_file << ": valid (" << loaded.config->upstreams.size() << " upstreams)\n";
    return 0;
  }

  if (analyze->parsed()) {
    bastion::core::Config analyze_cfg;
    if (analyze_config.empty()) {
      analyze_cfg = bastion::core::embedded_default_config(demo_agent_command());
    } else {
      auto loaded = bastion::core::load_config_file(analyze_config);
      if (!loaded.config) {
        print_errors(loaded.errors);
        return 2;
      }
      analyze_cfg = std::move(*loaded.config);
    }
    bastion::core::setup_logging(analyze_cfg.log);
    return bastion::app::run_analyze(analyze_cfg, analyze_options, std::cout, std::cerr);
  }

  if (dataset_export->parsed()) {
    bastion::core::Config export_cfg;
    if (export_config.empty()) {
      export_cfg = bastion::core::embedded_default_config(demo_agent_command());
    } else {
      auto loaded = bastion::core::load_config_file(export_config);
      if (!loaded.config) {
        print_errors(loaded.errors);
        return 2;
      }
      export_cfg = std::move(*loaded.config);
    }
    bastion::core::setup_logging(export_cfg.log);
    return bastion::app::run_export(export_cfg, export_out, export_since, export_until, version);
  }

  bastion::core::Config config;
  if (config_file.empty()) {
    config = bastion::core::embedded_default_config(demo_agent_command());
  } else {
    auto loaded = bastion::core::load_config_file(config_file);
    if (!loaded.config) {
      print_errors(loaded.errors);
      return 2;
    }
    config = std::move(*loaded.config);
  }
  if (!mcp_config.empty()) {
    auto errors = bastion::core::import_mcp_servers_file(mcp_config, config);
    if (!errors.messages.empty()) {
      print_errors(errors);
      return 2;
    }
    bastion::core::ConfigErrors more;
    bastion::core::validate(config, more);
    if (!more.messages.empty()) {
      print_errors(more);
      return 2;
    }
  }
  bastion::core::setup_logging(config.log);
  bastion::app::ServeOptions options;
  if (!ready_file.empty()) options.ready_file = ready_file;
  if (!config_file.empty()) options.config_path = config_file;
  return bastion::app::serve(std::move(config), options);
}
