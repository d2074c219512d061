#include "upstream/link_factory.hpp"

#include "upstream/stdio_link.hpp"

namespace bastion::upstream {

std::shared_ptr<Link> make_link(boost::asio::any_io_executor ex, const core::UpstreamConfig& config,
                                int replica) {
  if (config.is_stdio()) return std::make_shared<StdioLink>(ex, config, replica);
  return nullptr;  // Streamable-HTTP links are created by the HTTP transport module
}

StartResult start_link(const std::shared_ptr<Link>& link) {
  if (auto* stdio = dynamic_cast<StdioLink*>(link.get())) {
    auto r = stdio->spawn();
    if (!r) return {false, "cannot start: " + r.error().message()};
    return {true, {}};
  }
  return {false, "unsupported upstream transport"};
}

boost::asio::awaitable<void> stop_link(std::shared_ptr<Link> link) {
  if (auto* stdio = dynamic_cast<StdioLink*>(link.get())) co_await stdio->stop();
}

}  // namespace bastion::upstream
