#pragma once
// IPv4/IPv6 networks in CIDR notation and matching of client addresses against lists of them.
// Pure: no sockets. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) match IPv4 networks.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bastion::core {

struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};  // IPv4 stored as IPv4-mapped IPv6
  static std::optional<IpAddress> parse(std::string_view text);  // "10.0.0.1", "::1", "[::1]"
  bool operator==(const IpAddress&) const = default;
};

class Cidr {
 public:
  // "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128).
  static std::optional<Cidr> parse(std::string_view text);
  bool contains(const IpAddress& address) const;
  const std::string& text() const { return text_; }

 private:
  IpAddress network_;
  unsigned prefix_ = 0;  // over the 128-bit form
  std::string text_;
};

class CidrList {
 public:
  CidrList() = default;
  // Returns the entries that did not parse (empty on success).
  std::vector<std::string> assign(const std::vector<std::string>& entries);
  bool empty() const { return networks_.empty(); }
  bool contains(const IpAddress& address) const;

 private:
  std::vector<Cidr> networks_;
};

}  // namespace bastion::core
