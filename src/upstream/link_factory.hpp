#pragma once
// Builds the right Link for an upstream's transport and starts/stops it uniformly.
#include <boost/asio/awaitable.hpp>
#include <string>

#include "core/config.hpp"
#include "upstream/link.hpp"

namespace bastion::upstream {

std::shared_ptr<Link> make_link(boost::asio::any_io_executor ex, const core::UpstreamConfig& config,
                                int replica);

struct StartResult {
  bool ok = false;
  std::string message;
  explicit operator bool() const { return ok; }
  const std::string& error() const { return message; }
};
StartResult start_link(const std::shared_ptr<Link>& link);
boost::asio::awaitable<void> stop_link(std::shared_ptr<Link> link);

}  // namespace bastion::upstream
