#pragma once
// Who the client is: the TCP peer, unless the peer is a trusted proxy, in which case the
// address it reports (Forwarded, else X-Forwarded-For) is believed, hop by hop, from the right
// until the first address that is not itself a trusted proxy. Headers from untrusted peers are
// ignored, so a client cannot choose its own rate-limit key or slip past an IP filter.
#include <boost/asio/ip/tcp.hpp>

#include "core/cidr.hpp"
#include "net/server/http_server.hpp"

namespace bastion::guard {

class ClientAddressResolver {
 public:
  ClientAddressResolver() = default;
  explicit ClientAddressResolver(const std::vector<std::string>& trusted_proxies);
  core::IpAddress resolve(const net::Request& request, const boost::asio::ip::address& peer) const;

  static core::IpAddress from_asio(const boost::asio::ip::address& address);
  static std::string text(const core::IpAddress& address);

 private:
  core::CidrList trusted_;
};

}  // namespace bastion::guard
