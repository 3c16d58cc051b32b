#include "weighbridge/core/ip.h"

#include <gtest/gtest.h>

namespace weighbridge {
namespace {

TEST(IpAddress, ParsesAndPrintsBothFamilies) {
  auto v4 = IpAddress::Parse("10.1.2.3");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->IsV4());
  EXPECT_EQ(v4->V4HostOrder(), 0x0a010203u);
  EXPECT_EQ(v4->ToString(), "10.1.2.3");
  auto v6 = IpAddress::Parse("2001:db8::1");
  ASSERT_TRUE(v6);
  EXPECT_FALSE(v6->IsV4());
  EXPECT_EQ(v6->ToString(), "2001:db8::1");
  EXPECT_FALSE(IpAddress::Parse("10.1.2"));
  EXPECT_FALSE(IpAddress::Parse("10.1.2.3 "));
}

TEST(IpAddress, EndpointsBracketIpv6) {
  EXPECT_EQ(EndpointString(*IpAddress::Parse("192.0.2.5"), 4739), "192.0.2.5:4739");
  EXPECT_EQ(EndpointString(*IpAddress::Parse("2001:db8::5"), 9995), "[2001:db8::5]:9995");
}

TEST(Prefix, ParsesStrictly) {
  std::string why;
  EXPECT_TRUE(Prefix::Parse("10.0.0.0/8"));
  EXPECT_TRUE(Prefix::Parse("2001:db8:100::/48"));
  EXPECT_FALSE(Prefix::Parse("10.1.0.0/8", &why));
  EXPECT_NE(why.find("host bits"), std::string::npos);
  EXPECT_FALSE(Prefix::Parse("10.0.0.0/33", &why));
  EXPECT_FALSE(Prefix::Parse("10.0.0.0/", &why));
  EXPECT_FALSE(Prefix::Parse("10.0.0.0/8x", &why));
  auto host = Prefix::Parse("192.0.2.7");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->length, 32);
}

TEST(PrefixMap, LongestMatchWinsInBothFamilies) {
  PrefixMap<int> m;
  m.Insert(*Prefix::Parse("10.0.0.0/8"), 1);
  m.Insert(*Prefix::Parse("10.30.0.0/16"), 2);
  m.Insert(*Prefix::Parse("10.30.5.0/24"), 3);
  m.Insert(*Prefix::Parse("2001:db8:100::/48"), 4);
  m.Insert(*Prefix::Parse("::/0"), 5);
  auto at = [&](const char* a) {
    const int* v = m.Lookup(*IpAddress::Parse(a));
    return v == nullptr ? 0 : *v;
  };
  EXPECT_EQ(at("10.1.1.1"), 1);
  EXPECT_EQ(at("10.30.1.1"), 2);
  EXPECT_EQ(at("10.30.5.200"), 3);
  EXPECT_EQ(at("11.0.0.1"), 0);  // ::/0 is an IPv6 prefix: it must not swallow IPv4
  EXPECT_EQ(at("2001:db8:100:ffff::1"), 4);
  EXPECT_EQ(at("2001:db8:101::1"), 5);
}

}  // namespace
}  // namespace weighbridge
