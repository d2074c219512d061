#pragma once
// A Link over one Streamable-HTTP (or legacy HTTP+SSE) MCP session with a remote server.
#include "core/config.hpp"
#include "upstream/http/mcp_http_client.hpp"
#include "upstream/link.hpp"

namespace bastion::upstream {

class HttpLink final : public Link {
 public:
  HttpLink(boost::asio::any_io_executor ex, const core::UpstreamConfig& config,
           std::shared_ptr<net::client::HttpClientPool> pool,
           std::vector<std::pair<std::string, std::string>> secret_headers);
  void open();
  boost::asio::awaitable<void> close();

 protected:
  bool transmit(json::object message, const ForwardHeaders& forward) override;

 private:
  std::shared_ptr<std::weak_ptr<Link>> target_ = std::make_shared<std::weak_ptr<Link>>();
  std::shared_ptr<http::McpHttpClient> client_;
  std::atomic<bool> listening_{false};
};

// Reads "Name: value" lines from a headers file (a secret: values are never logged).
std::optional<std::vector<std::pair<std::string, std::string>>> read_headers_file(const std::string& path,
                                                                                    std::string& error);

}  // namespace bastion::upstream
