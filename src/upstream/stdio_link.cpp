#include "upstream/stdio_link.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <optional>
#include <string_view>

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

// The id of a JSON-RPC response from the first bytes of its line ("id" before any "method"),
// so a reply too large to frame can still fail its call at once instead of at the timeout.
std::optional<std::int64_t> response_id_in(std::string_view head) {
  if (head.find("\"method\"") != std::string_view::npos) return std::nullopt;
  auto at = head.find("\"id\"");
  if (at == std::string_view::npos) return std::nullopt;
  at += 4;
  while (at < head.size() && (head[at] == ' ' || head[at] == '\t')) ++at;
  if (at >= head.size() || head[at] != ':') return std::nullopt;
  ++at;
  while (at < head.size() && (head[at] == ' ' || head[at] == '\t')) ++at;
  std::int64_t id = 0;
  auto [end, ec] = std::from_chars(head.data() + at, head.data() + head.size(), id);
  if (ec != std::errc() || end == head.data() + at) return std::nullopt;
  // The number must be complete: followed by a delimiter, not cut off by the head's end.
  if (end == head.data() + head.size()) return std::nullopt;
  if (*end != ',' && *end != '}' && *end != ' ') return std::nullopt;
  return id;
}
}  // namespace

StdioLink::StdioLink(boost::asio::any_io_executor ex, const core::UpstreamConfig& config, int replica)
    : Link(ex, config.name),
      process_(std::make_shared<stdio::StdioProcess>(ex, options_for(config))),
      replica_(replica) {}

StdioLink::~StdioLink() = default;

boost::system::result<void> StdioLink::spawn() {
  std::weak_ptr<Link> weak = weak_from_this();
  process_->set_oversized_handler([weak, this](std::string_view head, std::size_t) {
    auto self = weak.lock();
    if (!self) return;
    auto id = response_id_in(head);
    if (!id) return;
    // Delivered like the upstream's own answer: it fails the call only if that id is in flight.
    deliver(mcp::make_error(json::value(*id), mcp::code::internal_error,
                            "upstream '" + upstream_name() + "' sent a reply over " +
                                std::to_string(process_->options().max_line_bytes) +
                                " bytes (the stdio line limit); it was discarded"));
  });
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
