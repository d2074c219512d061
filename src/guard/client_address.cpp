#include "guard/client_address.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace bastion::guard {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits every header line of `field` on commas, keeping order across repeated headers.
std::vector<std::string_view> list_values(const net::Request& request, std::string_view field) {
  std::vector<std::string_view> out;
  for (auto range = request.equal_range(field); range.first != range.second; ++range.first) {
    std::string_view v(range.first->value().data(), range.first->value().size());
    std::size_t start = 0;
    while (start <= v.size()) {
      auto comma = v.find(',', start);
      auto item = trim(v.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
      if (!item.empty()) out.push_back(item);
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

// RFC 7239 node: for=192.0.2.60 | for="[2001:db8::1]:4711" | for="_hidden" | for=unknown
std::optional<core::IpAddress> forwarded_for(std::string_view element) {
  std::size_t start = 0;
  while (start < element.size()) {
    auto semi = element.find(';', start);
    auto pair = trim(element.substr(start, semi == std::string_view::npos ? std::string_view::npos : semi - start));
    if (pair.size() > 4 && (pair.substr(0, 4) == "for=" || pair.substr(0, 4) == "For=" || pair.substr(0, 4) == "FOR=")) {
      auto node = pair.substr(4);
      if (node.size() >= 2 && node.front() == '"' && node.back() == '"') node = node.substr(1, node.size() - 2);
      if (!node.empty() && node.front() == '[') {
        auto close = node.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        return core::IpAddress::parse(node.substr(1, close - 1));
      }
      auto colon = node.find(':');
      return core::IpAddress::parse(node.substr(0, colon));
    }
    if (semi == std::string_view::npos) break;
    start = semi + 1;
  }
  return std::nullopt;
}

std::optional<core::IpAddress> xff_entry(std::string_view item) {
  if (auto ip = core::IpAddress::parse(item)) return ip;
  // Some proxies append the port: "1.2.3.4:5678" or "[::1]:5678".
  if (!item.empty() && item.front() == '[') {
    auto close = item.find(']');
    if (close != std::string_view::npos) return core::IpAddress::parse(item.substr(1, close - 1));
  }
  auto colon = item.find(':');
  if (colon != std::string_view::npos && item.find(':', colon + 1) == std::string_view::npos) {
    return core::IpAddress::parse(item.substr(0, colon));
  }
  return std::nullopt;
}

}  // namespace

ClientAddressResolver::ClientAddressResolver(const std::vector<std::string>& trusted_proxies) {
  trusted_.assign(trusted_proxies);  // validated by the config loader
}

core::IpAddress ClientAddressResolver::from_asio(const boost::asio::ip::address& address) {
  core::IpAddress out;
  if (address.is_v4()) {
    auto b = address.to_v4().to_bytes();
    out.bytes[10] = 0xff;
    out.bytes[11] = 0xff;
    std::memcpy(out.bytes.data() + 12, b.data(), 4);
  } else {
    auto b = address.to_v6().to_bytes();
    std::memcpy(out.bytes.data(), b.data(), 16);
  }
  return out;
}

std::string ClientAddressResolver::text(const core::IpAddress& address) {
  char buf[INET6_ADDRSTRLEN] = {};
  static const std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(address.bytes.data(), mapped, 12) == 0) {
    inet_ntop(AF_INET, address.bytes.data() + 12, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, address.bytes.data(), buf, sizeof buf);
  }
  return buf;
}

core::IpAddress ClientAddressResolver::resolve(const net::Request& request,
                                               const boost::asio::ip::address& peer) const {
  auto client = from_asio(peer);
  if (trusted_.empty() || !trusted_.contains(client)) return client;
  std::vector<std::optional<core::IpAddress>> hops;
  if (request.find(net::http::field::forwarded) != request.end()) {
    for (auto element : list_values(request, "Forwarded")) hops.push_back(forwarded_for(element));
  } else {
    for (auto item : list_values(request, "X-Forwarded-For")) hops.push_back(xff_entry(item));
  }
  // Walk from the nearest hop outwards; stop at the first one we have no reason to trust.
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    if (!*it) return client;  // "unknown", "_hidden" or garbage: the last trusted hop is all we know
    client = **it;
    if (!trusted_.contains(client)) return client;
  }
  return client;
}

}  // namespace bastion::guard
