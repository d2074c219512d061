#include "upstream/stdio_link.hpp"

#include <spdlog/spdlog.h>

#include "mcp/jsonrpc.hpp"

namespace bastion::upstream {

namespace {
stdio::ProcessOptions options_for(const core::UpstreamConfig& config) {
  stdio::ProcessOptions o;
  o.name = config.name;
  o.command = config.command;
  o.args = config.args;
  o.env = config.env;
  if (config.rlimits.address_space) o.limits.address_space_bytes = config.rlimits.address_space;
  if (config.rlimits.open_files) o.limits.open_files = config.rlimits.open_files;
  if (config.rlimits.cpu_seconds) o.limits.cpu_seconds = config.rlimits.cpu_seconds;
  return o;
}
}  // namespace

StdioLink::StdioLink(boost::asio::any_io_executor ex, const core::UpstreamConfig& config, int replica)
    : Link(ex, config.name),
      process_(std::make_shared<stdio::StdioProcess>(ex, options_for(config))),
      replica_(replica) {}

StdioLink::~StdioLink() = default;

boost::system::result<void> StdioLink::spawn() {
  std::weak_ptr<Link> weak = weak_from_this();
  auto started = process_->start(
      [weak, this](std::string line) {
        auto self = weak.lock();
        if (!self) return;
        auto msg = mcp::parse_upstream_line(line);
        if (!msg) {
          ++dropped_lines_;
          spdlog::warn("[upstream {}] ignored a stdout line that is not JSON-RPC ({} bytes)",
                       upstream_name(), line.size());
          return;
        }
        deliver(std::move(msg->body));
      },
      [weak, this](int status) {
        auto self = weak.lock();
        if (!self) return;
        mark_down("process exited (status " + std::to_string(status) + ")");
      });
  if (!started) return started.error();
  mark_up();
  return {};
}

boost::asio::awaitable<void> StdioLink::stop() {
  mark_down("stopping");
  co_await process_->stop();
}

pid_t StdioLink::pid() const { return process_->pid(); }

bool StdioLink::transmit(json::object message, const ForwardHeaders&) {
  return process_->send(json::serialize(message));
}

}  // namespace bastion::upstream
