#include "core/cidr.hpp"

#include <gtest/gtest.h>

using namespace bastion::core;

namespace {
IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a) << text;
  return a.value_or(IpAddress{});
}
}  // namespace

TEST(Cidr, Ipv4Networks) {
  auto net = Cidr::parse("10.1.2.3/8");
  ASSERT_TRUE(net);
  EXPECT_TRUE(net->contains(ip("10.255.0.1")));
  EXPECT_FALSE(net->contains(ip("11.0.0.1")));
  auto host = Cidr::parse("192.168.1.7");
  ASSERT_TRUE(host);
  EXPECT_TRUE(host->contains(ip("192.168.1.7")));
  EXPECT_FALSE(host->contains(ip("192.168.1.8")));
  auto odd = Cidr::parse("172.16.0.0/12");
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->contains(ip("172.31.255.255")));
  EXPECT_FALSE(odd->contains(ip("172.32.0.0")));
  EXPECT_TRUE(Cidr::parse("0.0.0.0/0")->contains(ip("8.8.8.8")));
}

TEST(Cidr, Ipv6AndMappedAddresses) {
  auto net = Cidr::parse("2001:db8::/32");
  ASSERT_TRUE(net);
  EXPECT_TRUE(net->contains(ip("2001:db8:1::5")));
  EXPECT_FALSE(net->contains(ip("2001:db9::1")));
  EXPECT_TRUE(Cidr::parse("127.0.0.0/8")->contains(ip("::ffff:127.0.0.1")));
  EXPECT_TRUE(Cidr::parse("::1")->contains(ip("[::1]")));
  EXPECT_FALSE(Cidr::parse("::1")->contains(ip("127.0.0.1")));
}

TEST(Cidr, RejectsGarbage) {
  for (const char* bad : {"", "10.0.0.0/33", "10.0.0/8", "::/129", "10.0.0.0/", "10.0.0.0/8x", "host.example",
                          "1.2.3.4/-1"}) {
    EXPECT_FALSE(Cidr::parse(bad)) << bad;
  }
  CidrList list;
  auto bad = list.assign({"10.0.0.0/8", "nonsense"});
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0], "nonsense");
  EXPECT_TRUE(list.contains(ip("10.9.9.9")));
}
