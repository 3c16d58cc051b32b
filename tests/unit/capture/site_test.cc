#include "weighbridge/capture/site.h"

#include <gtest/gtest.h>

namespace weighbridge::capture {
namespace {

PacketMeta Between(const char* src, const char* dst) {
  PacketMeta m;
  m.src = *IpAddress::Parse(src);
  m.dst = *IpAddress::Parse(dst);
  return m;
}

SiteClassifier ExampleSite() {
  SiteOptions o;
  o.inside = {*Prefix::Parse("10.0.0.0/8"), *Prefix::Parse("2001:db8:100::/48")};
  o.tenants = {{"research", {*Prefix::Parse("10.30.0.0/16")}},
               {"vision", {*Prefix::Parse("10.30.8.0/24"), *Prefix::Parse("2001:db8:100:7::/64")}}};
  return SiteClassifier(o);
}

TEST(SiteClassifier, DirectionFromInsidePrefixes) {
  const SiteClassifier site = ExampleSite();
  struct Case {
    const char* src;
    const char* dst;
    Direction want;
  } cases[] = {
      {"10.1.1.1", "198.51.100.1", Direction::kOutbound},
      {"198.51.100.1", "10.1.1.1", Direction::kInbound},
      {"10.1.1.1", "10.2.2.2", Direction::kInternal},
      {"198.51.100.1", "203.0.113.9", Direction::kTransit},
      {"2001:db8:100::5", "2001:db8:f00::1", Direction::kOutbound},
      {"2001:db8:f00::1", "2001:db8:100:1::5", Direction::kInbound},
      {"2001:db8:101::1", "2001:db8:f00::1", Direction::kTransit},  // just outside the /48
      {"11.0.0.1", "10.255.255.255", Direction::kInbound},
  };
  for (const Case& c : cases) {
    PacketMeta m = Between(c.src, c.dst);
    site.Classify(&m);
    EXPECT_EQ(m.direction, c.want) << c.src << " -> " << c.dst;
  }
}

TEST(SiteClassifier, TenantOfTheInsideEndByLongestPrefix) {
  const SiteClassifier site = ExampleSite();
  PacketMeta m = Between("198.51.100.1", "10.30.1.1");
  site.Classify(&m);
  EXPECT_EQ(m.tenant, 1);  // research
  m = Between("10.30.8.9", "198.51.100.1");
  site.Classify(&m);
  EXPECT_EQ(m.tenant, 2);  // vision: the /24 inside research's /16
  m = Between("2001:db8:f00::1", "2001:db8:100:7::42");
  site.Classify(&m);
  EXPECT_EQ(m.tenant, 2);
  m = Between("10.1.1.1", "198.51.100.1");
  site.Classify(&m);
  EXPECT_EQ(m.tenant, 0);  // inside, no tenant
  m = Between("198.51.100.1", "203.0.113.1");
  site.Classify(&m);
  EXPECT_EQ(m.tenant, 0);  // transit: no inside end
  EXPECT_EQ(site.tenant_names().at(1), "vision");
}

TEST(SiteClassifier, EmptySiteMakesEverythingTransit) {
  const SiteClassifier site{SiteOptions{}};
  PacketMeta m = Between("10.1.1.1", "10.2.2.2");
  site.Classify(&m);
  EXPECT_EQ(m.direction, Direction::kTransit);
}

}  // namespace
}  // namespace weighbridge::capture
