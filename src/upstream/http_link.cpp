#include "upstream/http_link.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <fstream>

#include "mcp/jsonrpc.hpp"
#include "mcp/protocol.hpp"

namespace bastion::upstream {

namespace asio = boost::asio;

HttpLink::HttpLink(asio::any_io_executor ex, const core::UpstreamConfig& config,
                   std::shared_ptr<net::client::HttpClientPool> pool,
                   std::vector<std::pair<std::string, std::string>> secret_headers)
    : Link(ex, config.name) {
  http::Options options;
  options.url = config.url;
  options.headers = std::move(secret_headers);
  options.request_timeout = config.timeout;
  options.ca_file = config.ca_file;
  // The client may deliver after this link is gone; it reaches the link only through a weak
  // pointer, filled in by open() once the link is owned by a shared_ptr.
  client_ = std::make_shared<http::McpHttpClient>(
      ex, std::move(pool), std::move(options), [target = target_](boost::json::value message) {
        auto link = target->lock();
        if (!link) return;
        if (auto* obj = message.if_object()) static_cast<HttpLink*>(link.get())->deliver(std::move(*obj));
      });
}

void HttpLink::open() {
  *target_ = weak_from_this();
  mark_up();
}

asio::awaitable<void> HttpLink::close() {
  mark_down("closing");
  co_await client_->close();
}

bool HttpLink::transmit(json::object message, const ForwardHeaders& forward) {
  if (!up()) return false;
  // Headers the transport needs: the negotiated version for 2025-era sessions, or the 2026-07-28
  // request metadata headers for stateless requests.
  http::McpHttpClient::Headers headers;
  auto method = message.if_contains("method");
  if (auto stateless = mcp::meta_protocol_version(message)) {
    headers.emplace_back("MCP-Protocol-Version", std::string(*stateless));
    if (method && method->is_string()) headers.emplace_back("Mcp-Method", std::string(method->get_string()));
    if (auto name = mcp::target_name(message)) headers.emplace_back("Mcp-Name", std::string(*name));
  } else if (auto version = negotiated_version()) {
    headers.emplace_back("MCP-Protocol-Version", std::move(*version));
  }
  for (const auto& h : forward) headers.push_back(h);
  const bool is_request = method && message.contains("id");
  json::value id = is_request ? message.at("id") : json::value(nullptr);
  const bool is_initialized = method && method->is_string() && method->get_string() == "notifications/initialized";
  auto self = std::static_pointer_cast<HttpLink>(shared_from_this());
  asio::co_spawn(executor(), [self, message = json::value(std::move(message)), headers = std::move(headers), id,
                               is_request, is_initialized]() mutable -> asio::awaitable<void> {
    auto outcome = co_await self->client_->send_detailed(std::move(message), std::move(headers));
    if (outcome.ec) {
      spdlog::warn("[upstream {}] HTTP send failed: {} (status {})", self->upstream_name(), outcome.ec.message(),
                   outcome.http_status);
      if (is_request) {
        // The caller is waiting for a response that will never come: give it an error.
        self->deliver(mcp::make_error(id, mcp::code::upstream_unavailable,
                                      "upstream HTTP error: " + outcome.ec.message()));
      }
      if (outcome.ec == http::make_error_code(http::McpHttpErrc::session_expired)) self->mark_down("session expired");
      co_return;
    }
    if (is_initialized && !self->listening_.exchange(true)) self->client_->open_listen_stream();
  }, asio::detached);
  return true;
}

std::optional<std::vector<std::pair<std::string, std::string>>> read_headers_file(const std::string& path,
                                                                                    std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read headers_file " + path;
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0) {
      error = path + ":" + std::to_string(n) + ": expected 'Name: value'";  // never echo the value
      return std::nullopt;
    }
    auto value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    out.emplace_back(line.substr(0, colon), value);
  }
  return out;
}

}  // namespace bastion::upstream
