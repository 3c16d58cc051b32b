// The synthetic generator, checked against an independent reading of what it wrote: a small
// pcap and header parser in this file (not the project's Decoder, not the generator's code),
// tshark where installed, and numbers the tests choose through `scale`.
#include "weighbridge/capture/synth.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "weighbridge/capture/site.h"

namespace weighbridge::capture {
namespace {

// Files this test process wrote, removed when it exits (CTest runs each test in its own process).
struct TempFiles {
  std::vector<std::string> paths;
  ~TempFiles() {
    for (const std::string& p : paths) std::remove(p.c_str());
  }
};

std::string TempPath(const std::string& name) {
  static TempFiles files;
  const char* dir = std::getenv("TMPDIR");
  std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/wb_synth_test_" +
                     std::to_string(::getpid()) + "_" + name;
  files.paths.push_back(path);
  return path;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::uint16_t Be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
std::uint32_t Be32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
std::uint32_t Le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
         std::uint32_t{p[3]} << 24;
}

// One direction of a conversation as read back from the frames.
struct Side {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t payload = 0;  // TCP: first sighting of each sequence number only
  std::set<std::uint32_t> seqs;
};
using Endpoint = std::pair<IpAddress, std::uint16_t>;
using Key = std::tuple<int, int, Endpoint, Endpoint>;  // proto, vlan, src, dst (one direction)

struct Readback {
  std::map<Key, Side> sides;
  std::uint64_t records = 0;
  std::uint64_t retransmissions = 0;  // TCP data segments whose seq was already seen
  bool seq_wrapped = false;           // a data segment crossing 2^32, or landing just after it
  bool time_ordered = true;
  std::uint32_t max_caplen = 0;
  bool caplen_le_wire = true;
  std::uint64_t unparsed = 0;
};

// Parses Ethernet [802.1Q] IPv4/IPv6 TCP/UDP/ICMP, and VXLAN (UDP 4789) by accounting the inner
// packet. Lengths come from the IP headers, so header-only captures read the same.
void ParseFrame(const std::uint8_t* p, std::uint32_t caplen, Readback* rb, int depth = 0) {
  if (caplen < 14) {
    ++rb->unparsed;
    return;
  }
  int vlan = 0;
  std::uint32_t off = 12;
  std::uint16_t type = Be16(p + off);
  if (type == 0x8100) {
    vlan = Be16(p + 14) & 0x0fff;
    off += 4;
    type = Be16(p + off);
  }
  off += 2;
  IpAddress src;
  IpAddress dst;
  int proto = 0;
  std::uint32_t l3 = 0;
  std::uint32_t ihl = 0;
  if (type == 0x0800 && caplen >= off + 20) {
    ihl = (p[off] & 0x0f) * 4u;
    l3 = Be16(p + off + 2);
    proto = p[off + 9];
    src = IpAddress::V4Bytes(p + off + 12);
    dst = IpAddress::V4Bytes(p + off + 16);
  } else if (type == 0x86dd && caplen >= off + 40) {
    ihl = 40;
    l3 = Be16(p + off + 4) + 40u;
    proto = p[off + 6];
    src = IpAddress::V6Bytes(p + off + 8);
    dst = IpAddress::V6Bytes(p + off + 24);
  } else {
    ++rb->unparsed;
    return;
  }
  const std::uint8_t* l4 = p + off + ihl;
  const std::uint32_t l4_avail = caplen - off - ihl;
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  std::uint64_t payload = 0;
  bool tcp_data = false;
  std::uint32_t seq = 0;
  if ((proto == 6 && l4_avail >= 20) || (proto == 17 && l4_avail >= 8)) {
    sport = Be16(l4);
    dport = Be16(l4 + 2);
    if (proto == 17 && dport == 4789 && depth == 0) {
      ParseFrame(l4 + 16, l4_avail - 16, rb, 1);
      return;
    }
    if (proto == 6) {
      payload = l3 - ihl - (l4[12] >> 4) * 4u;
      seq = Be32(l4 + 4);
      tcp_data = payload > 0;
    } else {
      payload = Be16(l4 + 4) - 8u;
    }
  }
  Side& side = rb->sides[Key{proto, vlan, {src, sport}, {dst, dport}}];
  ++side.packets;
  side.bytes += l3;
  if (tcp_data) {
    if (side.seqs.insert(seq).second) {
      side.payload += payload;
    } else {
      ++rb->retransmissions;
    }
    if (std::uint64_t{seq} + payload > (1ull << 32) ||
        (seq < 1500 * 4 && side.seqs.size() > 4 && *side.seqs.rbegin() > 0xf0000000u)) {
      rb->seq_wrapped = true;
    }
  } else {
    side.payload += payload;
  }
}

Readback ReadCapture(const std::string& path) {
  Readback rb;
  const std::string file = ReadAll(path);
  const auto* d = reinterpret_cast<const std::uint8_t*>(file.data());  // bytes of a string
  EXPECT_GE(file.size(), 24u);
  if (file.size() < 24) return rb;
  EXPECT_EQ(Le32(d), 0xa1b23c4du) << "nanosecond pcap magic";
  EXPECT_EQ(Le32(d + 20), 1u) << "LINKTYPE_ETHERNET";
  std::size_t pos = 24;
  std::uint64_t prev_ns = 0;
  while (pos + 16 <= file.size()) {
    const std::uint64_t ns = std::uint64_t{Le32(d + pos)} * 1'000'000'000ull + Le32(d + pos + 4);
    const std::uint32_t caplen = Le32(d + pos + 8);
    const std::uint32_t wire = Le32(d + pos + 12);
    if (ns < prev_ns) rb.time_ordered = false;
    prev_ns = ns;
    rb.max_caplen = std::max(rb.max_caplen, caplen);
    if (caplen > wire) rb.caplen_le_wire = false;
    if (pos + 16 + caplen > file.size()) break;
    ParseFrame(d + pos + 16, caplen, &rb);
    ++rb.records;
    pos += 16 + caplen;
  }
  EXPECT_EQ(pos, file.size()) << "trailing bytes in " << path;
  return rb;
}

// Reads one value of a --flows-out line: numbers as digits, strings without quotes.
std::string JsonField(const std::string& line, const std::string& key) {
  const std::string k = "\"" + key + "\":";
  const auto at = line.find(k);
  if (at == std::string::npos) return "<missing " + key + ">";
  auto v = at + k.size();
  if (line[v] == '"') return line.substr(v + 1, line.find('"', v + 1) - v - 1);
  auto end = line.find_first_of(",}", v);
  return line.substr(v, end - v);
}

struct Generated {
  std::vector<SynthTruthFlow> truth;
  std::vector<std::string> truth_lines;
  std::uint64_t frames = 0;
};

Generated Generate(const SynthOptions& o, const std::string& pcap, const std::string& truth_path) {
  Generated g;
  const Status st = WriteSynthCapture(o, pcap, truth_path);
  EXPECT_TRUE(st.ok()) << st.message();
  SynthGenerator gen(o);
  EXPECT_TRUE(gen.ok()) << gen.error();
  StreamTime ts;
  const std::uint8_t* data = nullptr;
  std::uint32_t caplen = 0;
  std::uint32_t wire = 0;
  while (gen.Next(&ts, &data, &caplen, &wire)) ++g.frames;
  g.truth = gen.truth();
  std::ifstream in(truth_path);
  for (std::string line; std::getline(in, line);) g.truth_lines.push_back(line);
  return g;
}

// Checks every truth flow against the frames read back, and that nothing is left over.
void ExpectTruthMatchesFrames(const Generated& g, Readback rb) {
  EXPECT_EQ(rb.unparsed, 0u);
  std::uint64_t truth_packets = 0;
  for (const SynthTruthFlow& f : g.truth) {
    const Key ab{f.proto, f.vlan, {f.a, f.a_port}, {f.b, f.b_port}};
    const Key ba{f.proto, f.vlan, {f.b, f.b_port}, {f.a, f.a_port}};
    const Side fwd = rb.sides[ab];
    const Side rev = rb.sides[ba];
    const std::string name = SynthTruthJson(f);
    EXPECT_EQ(fwd.packets, f.a_to_b_packets) << name;
    EXPECT_EQ(rev.packets, f.b_to_a_packets) << name;
    EXPECT_EQ(fwd.bytes, f.a_to_b_bytes) << name;
    EXPECT_EQ(rev.bytes, f.b_to_a_bytes) << name;
    if (f.proto == 6 || f.proto == 17) {
      EXPECT_EQ(fwd.payload, f.a_to_b_payload_bytes) << name;
      EXPECT_EQ(rev.payload, f.b_to_a_payload_bytes) << name;
    } else {
      EXPECT_EQ(f.a_to_b_payload_bytes + f.b_to_a_payload_bytes, 0u) << name;
    }
    EXPECT_LE(f.first, f.last);
    truth_packets += f.a_to_b_packets + f.b_to_a_packets;
    rb.sides.erase(ab);
    rb.sides.erase(ba);
  }
  EXPECT_TRUE(rb.sides.empty()) << rb.sides.size() << " directions in the capture not in the truth";
  EXPECT_EQ(truth_packets, rb.records);
  EXPECT_EQ(g.frames, rb.records);
  EXPECT_TRUE(rb.time_ordered);
  EXPECT_TRUE(rb.caplen_le_wire);
  // The truth file is the truth vector, line for line.
  ASSERT_EQ(g.truth_lines.size(), g.truth.size());
  for (std::size_t i = 0; i < g.truth.size(); ++i) {
    const std::string& line = g.truth_lines[i];
    const SynthTruthFlow& f = g.truth[i];
    EXPECT_EQ(JsonField(line, "a"), f.a.ToString());
    EXPECT_EQ(JsonField(line, "b_port"), std::to_string(f.b_port));
    EXPECT_EQ(JsonField(line, "a_to_b_bytes"), std::to_string(f.a_to_b_bytes));
    EXPECT_EQ(JsonField(line, "b_to_a_payload_bytes"), std::to_string(f.b_to_a_payload_bytes));
    EXPECT_EQ(JsonField(line, "first").size(), 27u) << line;
  }
}

TEST(SynthTest, ListsScenariosAndRejectsUnknownOnes) {
  std::set<std::string> names;
  for (const auto& s : SynthScenarios()) {
    names.insert(s.name);
    EXPECT_FALSE(s.description.empty());
  }
  for (const char* n : {"tiny", "edge-mix", "bulk-upload", "ingest", "flood-upload", "bench-10m",
                        "weights-16g", "tunnel-vxlan"}) {
    EXPECT_EQ(names.count(n), 1u) << n;
  }
  SynthOptions o;
  o.scenario = "no-such";
  SynthGenerator gen(o);
  EXPECT_FALSE(gen.ok());
  EXPECT_NE(gen.error().find("unknown scenario"), std::string::npos);
  EXPECT_NE(gen.error().find("edge-mix"), std::string::npos);
  const Status st = WriteSynthCapture(o, TempPath("never.pcap"), "");
  EXPECT_FALSE(st.ok());
}

TEST(SynthTest, SameSeedSameBytesOtherSeedOtherBytes) {
  SynthOptions o;
  o.scenario = "edge-mix";
  o.scale = 0.05;
  ASSERT_TRUE(WriteSynthCapture(o, TempPath("det1.pcap"), TempPath("det1.jsonl")).ok());
  ASSERT_TRUE(WriteSynthCapture(o, TempPath("det2.pcap"), TempPath("det2.jsonl")).ok());
  o.seed = 2;
  ASSERT_TRUE(WriteSynthCapture(o, TempPath("det3.pcap"), TempPath("det3.jsonl")).ok());
  const std::string a = ReadAll(TempPath("det1.pcap"));
  EXPECT_GT(a.size(), 100000u);
  EXPECT_TRUE(a == ReadAll(TempPath("det2.pcap")));
  EXPECT_EQ(ReadAll(TempPath("det1.jsonl")), ReadAll(TempPath("det2.jsonl")));
  EXPECT_FALSE(a == ReadAll(TempPath("det3.pcap")));
}

TEST(SynthTest, TinyTruthMatchesFrames) {
  SynthOptions o;
  o.scenario = "tiny";
  const Generated g = Generate(o, TempPath("tiny.pcap"), TempPath("tiny.jsonl"));
  ASSERT_EQ(g.truth.size(), 8u);
  const Readback rb = ReadCapture(TempPath("tiny.pcap"));
  EXPECT_GT(rb.retransmissions, 0u);
  EXPECT_TRUE(rb.seq_wrapped);
  ExpectTruthMatchesFrames(g, rb);
  // Hand-checked: the first line is the IPv4 web flow, opened at the scenario's start.
  EXPECT_EQ(g.truth_lines[0],
            "{\"proto\":6,\"a\":\"10.40.0.10\",\"a_port\":50000,\"b\":\"198.51.100.20\","
            "\"b_port\":443,\"vlan\":0,\"a_to_b_bytes\":889,\"b_to_a_bytes\":5372,"
            "\"a_to_b_packets\":7,\"b_to_a_packets\":7,\"a_to_b_payload_bytes\":517,"
            "\"b_to_a_payload_bytes\":5000,\"first\":\"2026-01-01T00:00:00.000000Z\","
            "\"last\":\"2026-01-01T00:00:00.060520Z\"}");
  // 517 request bytes in one segment plus the handshake and close, 7 packets a to b:
  // SYN (20+40) + ACK (52) + 569 + FIN (52) + ACK (52) + 2 ACKs of the response (52 each).
  EXPECT_EQ(g.truth[0].a_to_b_bytes, 60u + 52 + 569 + 52 + 52 + 52 + 52);
}

TEST(SynthTest, EdgeMixFullAndHeaderOnlyMatchTruth) {
  SynthOptions o;
  o.scenario = "edge-mix";
  o.scale = 0.1;
  const Generated full = Generate(o, TempPath("edge.pcap"), TempPath("edge.jsonl"));
  const Readback rb_full = ReadCapture(TempPath("edge.pcap"));
  EXPECT_EQ(rb_full.max_caplen, 1518u);
  ExpectTruthMatchesFrames(full, rb_full);
  bool v6 = false;
  bool vlan = false;
  bool icmp = false;
  bool udp = false;
  for (const auto& f : full.truth) {
    v6 = v6 || !f.a.IsV4();
    vlan = vlan || f.vlan != 0;
    icmp = icmp || f.proto == 1 || f.proto == 58;
    udp = udp || f.proto == 17;
  }
  EXPECT_TRUE(v6 && vlan && icmp && udp);

  o.snaplen = 96;
  const Generated cut = Generate(o, TempPath("edge96.pcap"), TempPath("edge96.jsonl"));
  const Readback rb_cut = ReadCapture(TempPath("edge96.pcap"));
  EXPECT_EQ(rb_cut.max_caplen, 96u);
  ExpectTruthMatchesFrames(cut, rb_cut);
  // The same traffic: only the captured length changed.
  EXPECT_EQ(ReadAll(TempPath("edge.jsonl")), ReadAll(TempPath("edge96.jsonl")));
}

TEST(SynthTest, BulkUploadDeliversTheConfiguredFile) {
  SynthOptions o;
  o.scenario = "bulk-upload";
  o.scale = 0.01;  // 1e9 * 0.01 = 10,000,000 bytes over 8 streams
  o.snaplen = 128;
  const Generated g = Generate(o, TempPath("bulk.pcap"), TempPath("bulk.jsonl"));
  const Readback rb = ReadCapture(TempPath("bulk.pcap"));
  ExpectTruthMatchesFrames(g, rb);
  EXPECT_GT(rb.retransmissions, 0u);
  EXPECT_TRUE(rb.seq_wrapped);
  std::uint64_t total = 0;
  int streams = 0;
  for (const auto& f : g.truth) {
    if (f.b == *IpAddress::Parse("203.0.113.50") && f.b_port == 443) {
      ++streams;
      total += f.a_to_b_payload_bytes;
      EXPECT_EQ(f.a_to_b_payload_bytes, 1'250'000u);
      EXPECT_EQ(f.a.ToString(), "10.30.1.10");
      EXPECT_GT(f.a_to_b_packets, 1'250'000u / 1448);
    }
  }
  EXPECT_EQ(streams, 8);
  EXPECT_EQ(total, 10'000'000u);
}

TEST(SynthTest, TunnelAndFloodScenariosMatchTruth) {
  SynthOptions o;
  o.scenario = "tunnel-vxlan";
  o.scale = 0.05;
  const Generated tun = Generate(o, TempPath("vxlan.pcap"), TempPath("vxlan.jsonl"));
  ExpectTruthMatchesFrames(tun, ReadCapture(TempPath("vxlan.pcap")));
  o.scenario = "flood-upload";
  o.scale = 0.01;  // 3000 probes and a 10 MB upload
  o.snaplen = 96;
  const Generated flood = Generate(o, TempPath("flood.pcap"), TempPath("flood.jsonl"));
  ExpectTruthMatchesFrames(flood, ReadCapture(TempPath("flood.pcap")));
  int one_packet = 0;
  for (const auto& f : flood.truth) one_packet += f.a_to_b_packets + f.b_to_a_packets == 1;
  EXPECT_EQ(one_packet, 3000);
}

TEST(SynthTest, Bench10mIsExactlyTenMillionPackets) {
  SynthOptions o;
  o.scenario = "bench-10m";
  o.snaplen = 128;
  SynthGenerator gen(o);
  ASSERT_TRUE(gen.ok());
  EXPECT_EQ(gen.frames_total(), 10'000'000u);
  StreamTime ts;
  StreamTime prev;
  const std::uint8_t* data = nullptr;
  std::uint32_t caplen = 0;
  std::uint32_t wire = 0;
  std::uint64_t n = 0;
  bool ordered = true;
  bool capped = true;
  while (gen.Next(&ts, &data, &caplen, &wire) && n <= 10'000'001) {
    ordered = ordered && prev <= ts;
    capped = capped && caplen <= 128 && caplen <= wire;
    prev = ts;
    ++n;
  }
  EXPECT_EQ(n, 10'000'000u);
  EXPECT_TRUE(ordered);
  EXPECT_TRUE(capped);
  std::uint64_t packets = 0;
  for (const auto& f : gen.truth()) packets += f.a_to_b_packets + f.b_to_a_packets;
  EXPECT_EQ(packets, 10'000'000u);
  EXPECT_GT(gen.truth().size(), 10000u);
}

TEST(SynthTest, TsharkAgreesOnL3Bytes) {
  if (std::system("command -v tshark >/dev/null 2>&1") != 0) GTEST_SKIP() << "tshark not installed";
  SynthOptions o;
  o.scenario = "tiny";
  const Generated g = Generate(o, TempPath("tshark.pcap"), TempPath("tshark.jsonl"));
  std::uint64_t truth_bytes = 0;
  for (const auto& f : g.truth) truth_bytes += f.a_to_b_bytes + f.b_to_a_bytes;
  const std::string cmd = "tshark -r " + TempPath("tshark.pcap") +
                          " -T fields -e ip.len -e ipv6.plen -E separator=, 2>/dev/null";
  std::FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::uint64_t bytes = 0;
  std::uint64_t lines = 0;
  char buf[256];
  while (std::fgets(buf, sizeof(buf), pipe) != nullptr && lines < 100000) {
    ++lines;
    const std::string line(buf);
    const auto comma = line.find(',');
    const std::string v4 = line.substr(0, comma);
    const std::string v6 = comma == std::string::npos ? "" : line.substr(comma + 1);
    if (!v4.empty()) bytes += std::strtoull(v4.c_str(), nullptr, 10);
    if (!v6.empty() && v6 != "\n") bytes += std::strtoull(v6.c_str(), nullptr, 10) + 40;
  }
  pclose(pipe);
  EXPECT_EQ(lines, g.frames);
  EXPECT_EQ(bytes, truth_bytes);
  // tshark validates every checksum we compute: none may be flagged bad.
  const std::string bad =
      "tshark -r " + TempPath("tshark.pcap") +
      " -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE"
      " -Y 'ip.checksum.status==0 || tcp.checksum.status==0 || udp.checksum.status==0 ||"
      " icmp.checksum.status==0 || icmpv6.checksum.status==0' 2>/dev/null | wc -l";
  pipe = popen(bad.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  ASSERT_NE(std::fgets(buf, sizeof(buf), pipe), nullptr);
  pclose(pipe);
  EXPECT_EQ(std::strtoull(buf, nullptr, 10), 0u);
}

TEST(SynthTest, OpenSynthDecodesEveryFrame) {
  SynthOptions o;
  o.scenario = "tiny";
  SynthGenerator gen(o);
  StreamTime ts;
  const std::uint8_t* data = nullptr;
  std::uint32_t caplen = 0;
  std::uint32_t wire = 0;
  while (gen.Next(&ts, &data, &caplen, &wire)) {
  }
  std::uint64_t truth_bytes = 0;
  std::uint64_t truth_packets = 0;
  for (const auto& f : gen.truth()) {
    truth_bytes += f.a_to_b_bytes + f.b_to_a_bytes;
    truth_packets += f.a_to_b_packets + f.b_to_a_packets;
  }
  SiteOptions site_options;
  site_options.inside.push_back(*Prefix::Parse("10.0.0.0/8"));
  const SiteClassifier site(site_options);
  auto source = OpenSynth(o, DecodeOptions{}, &site);
  ASSERT_TRUE(source.ok()) << source.error();
  EXPECT_EQ((*source)->Name(), "synth:tiny");
  std::vector<PacketMeta> batch(64);
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  for (int polls = 0; polls < 100000; ++polls) {
    const PollResult r = (*source)->Poll(batch);
    for (std::size_t i = 0; i < r.packets; ++i) bytes += batch[i].l3_bytes;
    packets += r.packets;
    if (r.state == PollResult::State::kEnd) break;
  }
  EXPECT_EQ(packets, truth_packets);
  EXPECT_EQ(bytes, truth_bytes);
  o.scenario = "bogus";
  EXPECT_FALSE(OpenSynth(o, DecodeOptions{}, &site).ok());
}

}  // namespace
}  // namespace weighbridge::capture
