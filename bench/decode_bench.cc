// Decode only: ns per packet for header-only frames of the common shapes (Ethernet/IPv4/TCP,
// 802.1Q/IPv6/TCP, Ethernet/IPv4/UDP), with a site classifier as in production.
#include <benchmark/benchmark.h>

#include <array>
#include <vector>

#include "weighbridge/capture/decode.h"
#include "weighbridge/core/bytes.h"

namespace weighbridge::capture {
namespace {

std::vector<std::uint8_t> Ipv4Tcp() {
  std::vector<std::uint8_t> f(14 + 20 + 20, 0);
  f[12] = 0x08;
  f[13] = 0x00;
  std::uint8_t* ip = f.data() + 14;
  ip[0] = 0x45;
  StoreBe16(ip + 2, 1500);
  ip[8] = 64;
  ip[9] = 6;
  StoreBe32(ip + 12, 0x0a000001);
  StoreBe32(ip + 16, 0xc6336407);
  std::uint8_t* tcp = ip + 20;
  StoreBe16(tcp, 40000);
  StoreBe16(tcp + 2, 443);
  StoreBe32(tcp + 4, 123456);
  tcp[12] = 0x50;
  tcp[13] = 0x10;
  return f;
}

std::vector<std::uint8_t> VlanIpv6Tcp() {
  std::vector<std::uint8_t> f(18 + 40 + 20, 0);
  f[12] = 0x81;
  f[13] = 0x00;
  StoreBe16(f.data() + 14, 100);
  f[16] = 0x86;
  f[17] = 0xdd;
  std::uint8_t* ip = f.data() + 18;
  ip[0] = 0x60;
  StoreBe16(ip + 4, 1460);
  ip[6] = 6;
  ip[7] = 64;
  ip[8] = 0x20;
  ip[9] = 0x01;
  ip[10] = 0x0d;
  ip[11] = 0xb8;
  ip[23] = 1;
  ip[24] = 0x20;
  ip[25] = 0x01;
  ip[39] = 2;
  std::uint8_t* tcp = ip + 40;
  StoreBe16(tcp, 40000);
  StoreBe16(tcp + 2, 443);
  tcp[12] = 0x50;
  tcp[13] = 0x10;
  return f;
}

std::vector<std::uint8_t> Ipv4Udp() {
  std::vector<std::uint8_t> f = Ipv4Tcp();
  f.resize(14 + 20 + 8);
  f[14 + 9] = 17;
  StoreBe16(f.data() + 14 + 20 + 4, 1480);
  return f;
}

void BM_Decode(benchmark::State& state, std::vector<std::uint8_t> frame, std::uint32_t wire_len) {
  SiteOptions site_options;
  site_options.inside = {*Prefix::Parse("10.0.0.0/8"), *Prefix::Parse("2001:db8:100::/48")};
  const SiteClassifier site(site_options);
  Decoder decoder(DecodeOptions{}, &site);
  PacketMeta meta;
  std::int64_t t = 1;
  for (auto _ : state) {
    const DecodeResult r =
        decoder.Decode(kLinkEthernet, frame.data(), static_cast<std::uint32_t>(frame.size()),
                       wire_len, StreamTime::FromNanos(t++), &meta);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(meta);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK_CAPTURE(BM_Decode, ipv4_tcp, Ipv4Tcp(), 1514);
BENCHMARK_CAPTURE(BM_Decode, vlan_ipv6_tcp, VlanIpv6Tcp(), 1518);
BENCHMARK_CAPTURE(BM_Decode, ipv4_udp, Ipv4Udp(), 1514);

}  // namespace
}  // namespace weighbridge::capture

BENCHMARK_MAIN();
