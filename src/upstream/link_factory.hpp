#pragma once
// Builds the right Link for an upstream's transport and starts/stops it uniformly.
#include <boost/asio/awaitable.hpp>
#include <string>

#include "core/config.hpp"
#include "net/client/http_client.hpp"
#include "upstream/link.hpp"

namespace bastion::upstream {

// The keep-alive pool an HTTP upstream's links share (nullptr, logged, when TLS setup fails).
// Owned by the upstream, so it goes away with it, before the io_context.
std::shared_ptr<net::client::HttpClientPool> make_http_pool(boost::asio::any_io_executor ex,
                                                            const core::UpstreamConfig& config);

std::shared_ptr<Link> make_link(boost::asio::any_io_executor ex, const core::UpstreamConfig& config,
                                int replica, const std::shared_ptr<net::client::HttpClientPool>& pool);

struct StartResult {
  bool ok = false;
  std::string message;
  explicit operator bool() const { return ok; }
  const std::string& error() const { return message; }
};
StartResult start_link(const std::shared_ptr<Link>& link);
boost::asio::awaitable<void> stop_link(std::shared_ptr<Link> link);

}  // namespace bastion::upstream
