#include "upstream/link_factory.hpp"

#include <spdlog/spdlog.h>


#include "upstream/http_link.hpp"
#include "upstream/stdio_link.hpp"

namespace bastion::upstream {

std::shared_ptr<net::client::HttpClientPool> make_http_pool(boost::asio::any_io_executor ex,
                                                            const core::UpstreamConfig& config) {
  net::client::PoolOptions options;
  options.ca_file = config.ca_file;
  // Keep as many idle keep-alive connections as a busy gateway has calls in flight; a small
  // pool makes every burst open (and TIME_WAIT) fresh connections to the upstream.
  options.max_idle_per_origin = 1024;
  options.max_idle_total = 4096;
  auto created = net::client::HttpClientPool::create(ex, options);
  if (!created) {
    spdlog::error("[upstream {}] cannot set up TLS: {}", config.name, created.error().message());
    return nullptr;
  }
  return *created;
}

std::shared_ptr<Link> make_link(boost::asio::any_io_executor ex, const core::UpstreamConfig& config,
                                int replica, const std::shared_ptr<net::client::HttpClientPool>& pool) {
  if (config.is_stdio()) return std::make_shared<StdioLink>(ex, config, replica);
  std::vector<std::pair<std::string, std::string>> headers;
  if (config.headers_file) {
    std::string error;
    auto read = read_headers_file(*config.headers_file, error);
    if (!read) {
      spdlog::error("[upstream {}] {}", config.name, error);
      return nullptr;
    }
    headers = std::move(*read);
  }
  if (!pool) return nullptr;
  return std::make_shared<HttpLink>(ex, config, pool, std::move(headers));
}

StartResult start_link(const std::shared_ptr<Link>& link) {
  if (auto* stdio = dynamic_cast<StdioLink*>(link.get())) {
    auto r = stdio->spawn();
    if (!r) return {false, "cannot start: " + r.error().message()};
    return {true, {}};
  }
  if (auto* http = dynamic_cast<HttpLink*>(link.get())) {
    http->open();
    return {true, {}};
  }
  return {false, "unsupported upstream transport"};
}

boost::asio::awaitable<void> stop_link(std::shared_ptr<Link> link) {
  if (auto* stdio = dynamic_cast<StdioLink*>(link.get())) co_await stdio->stop();
  if (auto* http = dynamic_cast<HttpLink*>(link.get())) co_await http->close();
}

}  // namespace bastion::upstream
