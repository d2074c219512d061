#pragma once
// The public listener's request path for one configuration generation: the guard chain, the
// security headers on every reply, /healthz, the protected-resource metadata and the MCP
// endpoint. The gateway serves it on sockets; the HTTP fuzz target drives the same code.
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/config.hpp"
#include "guard/guard.hpp"
#include "guard/security_headers.hpp"
#include "mcp/server/router.hpp"
#include "mcp/server/streamable_http.hpp"
#include "net/server/http_server.hpp"
#include "upstream/upstream.hpp"

namespace bastion::app {

// What a configuration reload replaces as a whole; requests hold the one they started with.
struct Generation {
  core::Config config;
  std::map<std::string, std::shared_ptr<upstream::Upstream>> upstreams;
  std::shared_ptr<mcp::Router> router;
  guard::GuardChain guards;
  guard::SecurityHeaders security_headers;
  // POSTs being handled with this generation: a reload stops the upstreams it replaces only once
  // these are answered (requests between taking the snapshot and starting their call included).
  mutable std::atomic<std::size_t> posts_in_flight{0};
};

// Guards and security headers from `config`; the caller adds the upstreams, then the router.
std::shared_ptr<Generation> make_generation(core::Config config, const guard::GuardResources& resources);
// The router over gen.upstreams (with the per-tool policy when authentication is on).
void attach_router(Generation& gen, std::shared_ptr<mcp::RecordSink> records);

// The HTTP server's limits (header and body sizes, timeouts, connections) from the configuration.
net::ServerLimits limits_from(const core::Config& c);

// Adds the security headers (and whatever the guards left, e.g. RateLimit) to every reply a
// handler sends, so no handler can forget them.
class HeaderingWriter final : public net::ResponseWriter {
 public:
  HeaderingWriter(net::ResponseWriter& inner, const guard::SecurityHeaders& security, bool tls,
                  const guard::HeaderList* extra = nullptr)
      : inner_(inner), security_(security), tls_(tls), extra_(extra) {}

  boost::asio::awaitable<bool> send(net::Response response) override;
  boost::asio::awaitable<bool> start_stream(net::http::response<net::http::empty_body> header) override;
  boost::asio::awaitable<bool> write_chunk(std::string_view data) override { return inner_.write_chunk(data); }
  boost::asio::awaitable<bool> finish_stream() override { return inner_.finish_stream(); }
  bool streaming() const override { return inner_.streaming(); }

 private:
  void decorate(net::http::fields& fields) const;
  net::ResponseWriter& inner_;
  const guard::SecurityHeaders& security_;
  bool tls_;
  const guard::HeaderList* extra_;
};

// The request target without its query.
std::string path_of(const net::Request& req);

net::Response json_reply(net::http::status status, const boost::json::value& body,
                         std::string_view type = "application/json");

// One request on the public listener. Rejections are counted in `rejections` and, on MCP paths,
// recorded in `records` like any other interaction.
boost::asio::awaitable<void> handle_public(std::shared_ptr<const Generation> gen,
                                           mcp::StreamableHttpEndpoint& endpoint, mcp::RecordSink& records,
                                           guard::RejectionCounters& rejections, net::Request& req,
                                           net::ResponseWriter& raw_writer, const net::ConnectionInfo& conn);

}  // namespace bastion::app
