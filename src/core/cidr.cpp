#include "core/cidr.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace bastion::core {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() > 45) return std::nullopt;
  std::string s(text);
  IpAddress out;
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out.bytes[10] = 0xff;
    out.bytes[11] = 0xff;
    std::memcpy(out.bytes.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(out.bytes.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  const bool v4 = text.substr(0, slash).find(':') == std::string_view::npos;
  unsigned prefix = v4 ? 32 : 128;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) return std::nullopt;
    if (prefix > (v4 ? 32u : 128u)) return std::nullopt;
  }
  Cidr c;
  c.prefix_ = v4 ? prefix + 96 : prefix;
  c.network_ = *address;
  // Clear host bits so "10.1.2.3/8" means 10.0.0.0/8.
  for (unsigned bit = c.prefix_; bit < 128; ++bit) c.network_.bytes[bit / 8] &= ~(0x80u >> (bit % 8));
  c.text_ = std::string(text);
  return c;
}

bool Cidr::contains(const IpAddress& address) const {
  unsigned full = prefix_ / 8, rest = prefix_ % 8;
  if (std::memcmp(address.bytes.data(), network_.bytes.data(), full) != 0) return false;
  if (rest == 0) return true;
  std::uint8_t mask = static_cast<std::uint8_t>(0xff00u >> rest);
  return (address.bytes[full] & mask) == network_.bytes[full];
}

std::vector<std::string> CidrList::assign(const std::vector<std::string>& entries) {
  std::vector<std::string> bad;
  networks_.clear();
  for (const auto& e : entries) {
    if (auto c = Cidr::parse(e)) networks_.push_back(*c);
    else bad.push_back(e);
  }
  return bad;
}

bool CidrList::contains(const IpAddress& address) const {
  for (const auto& n : networks_) {
    if (n.contains(address)) return true;
  }
  return false;
}

}  // namespace bastion::core
