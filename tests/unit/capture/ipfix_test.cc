// IPFIX (RFC 7011) parser tests. Messages are built here field by field from the RFC's
// structures (message header, set header, template record, field specifier), independently of
// the parser; expected values are this file's own constants.
#include "weighbridge/capture/ipfix.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace weighbridge::capture {
namespace {

constexpr std::int64_t kSec = 1'000'000'000;

struct W {
  std::vector<std::uint8_t> b;
  W& U8(std::uint8_t v) {
    b.push_back(v);
    return *this;
  }
  W& U16(std::uint16_t v) {
    return U8(static_cast<std::uint8_t>(v >> 8)).U8(static_cast<std::uint8_t>(v));
  }
  W& U32(std::uint32_t v) {
    return U16(static_cast<std::uint16_t>(v >> 16)).U16(static_cast<std::uint16_t>(v));
  }
  W& U64(std::uint64_t v) {
    return U32(static_cast<std::uint32_t>(v >> 32)).U32(static_cast<std::uint32_t>(v));
  }
  W& Bytes(std::vector<std::uint8_t> v) {
    b.insert(b.end(), v.begin(), v.end());
    return *this;
  }
  W& Append(const W& o) { return Bytes(o.b); }
};

struct Field {
  std::uint16_t id;
  std::uint16_t len;
  std::uint32_t enterprise = 0;
};

// Set: id, length (header included), body.
W Set(std::uint16_t id, const W& body) {
  W s;
  s.U16(id).U16(static_cast<std::uint16_t>(body.b.size() + 4)).Append(body);
  return s;
}

W TemplateRecord(std::uint16_t id, const std::vector<Field>& fields) {
  W t;
  t.U16(id).U16(static_cast<std::uint16_t>(fields.size()));
  for (const Field& f : fields) {
    t.U16(static_cast<std::uint16_t>(f.id | (f.enterprise != 0 ? 0x8000 : 0))).U16(f.len);
    if (f.enterprise != 0) t.U32(f.enterprise);
  }
  return t;
}

W OptionsTemplateRecord(std::uint16_t id, std::uint16_t scope_count,
                        const std::vector<Field>& fields) {
  W t;
  t.U16(id).U16(static_cast<std::uint16_t>(fields.size())).U16(scope_count);
  for (const Field& f : fields) t.U16(f.id).U16(f.len);
  return t;
}

W Message(std::uint32_t export_secs, std::uint32_t domain, const std::vector<W>& sets) {
  W body;
  for (const W& s : sets) body.Append(s);
  W m;
  m.U16(10).U16(static_cast<std::uint16_t>(16 + body.b.size())).U32(export_secs).U32(1).U32(domain);
  return m.Append(body);
}

const std::vector<Field> kV4Fields = {{8, 4}, {12, 4}, {7, 2}, {11, 2},  {4, 1},
                                      {6, 1}, {1, 8},  {2, 8}, {152, 8}, {153, 8}};

W V4Record(std::uint32_t src, std::uint32_t dst, std::uint16_t sp, std::uint16_t dp,
           std::uint64_t octets, std::uint64_t packets, std::uint64_t start_ms,
           std::uint64_t end_ms) {
  W r;
  r.U32(src).U32(dst).U16(sp).U16(dp).U8(6).U8(0x1b).U64(octets).U64(packets).U64(start_ms).U64(
      end_ms);
  return r;
}

class IpfixTest : public ::testing::Test {
 protected:
  void Parse(const W& m, std::int64_t at_ns = 1'800'000'000 * kSec, IpAddress from = {}) {
    parser_.Parse(from == IpAddress{} ? exporter_ : from, m.b.data(), m.b.size(),
                  StreamTime::FromNanos(at_ns), &out_);
  }
  std::uint64_t Dropped(FlowDropReason r) const { return counters_.Dropped(r); }

  IpAddress exporter_ = IpAddress::V4(0xC0000202);
  FlowProtocolCounters counters_;
  FlowParserOptions options_;
  FlowRecordParser parser_{options_, &counters_};
  std::vector<FlowRecord> out_;
};

TEST_F(IpfixTest, TemplateAndDataInOneMessage) {
  Parse(Message(1'800'000'000, 7,
                {Set(2, TemplateRecord(256, kV4Fields)),
                 Set(256, V4Record(0x0A000001, 0xCB007101, 51000, 443, 123456789012ull, 98765,
                                   1'799'999'990'500ull, 1'799'999'999'250ull)
                              .Append(V4Record(0xCB007101, 0x0A000001, 443, 51000, 4000, 80,
                                               1'799'999'990'501ull, 1'799'999'999'251ull)))}));
  ASSERT_EQ(out_.size(), 2u);
  const FlowRecord& f = out_[0];
  EXPECT_EQ(f.src, IpAddress::V4(0x0A000001));
  EXPECT_EQ(f.dst, IpAddress::V4(0xCB007101));
  EXPECT_EQ(f.src_port, 51000);
  EXPECT_EQ(f.dst_port, 443);
  EXPECT_EQ(f.proto, 6);
  EXPECT_EQ(f.tcp_flags, 0x1b);
  EXPECT_EQ(f.l3_bytes, 123456789012ull);
  EXPECT_EQ(f.packets, 98765u);
  EXPECT_EQ(f.start.ns, 1'799'999'990'500'000'000);
  EXPECT_EQ(f.end.ns, 1'799'999'999'250'000'000);
  EXPECT_EQ(f.sampling_interval, 1u);
  EXPECT_EQ(f.observation_domain, 7u);
  EXPECT_EQ(f.exporter, exporter_);
  EXPECT_EQ(f.format, FlowRecordFormat::kIpfix);
  EXPECT_EQ(out_[1].l3_bytes, 4000u);
  EXPECT_EQ(counters_.templates_learned.Get(), 1u);
  EXPECT_EQ(counters_.flow_records.Get(), 2u);
}

TEST_F(IpfixTest, DataBeforeTemplateIsUnknownThenDecodesOnceTemplateArrives) {
  const W data = Set(300, V4Record(1, 2, 3, 4, 500, 5, 1000, 2000));
  Parse(Message(100, 1, {data}));
  EXPECT_EQ(Dropped(FlowDropReason::kUnknownTemplate), 1u);
  EXPECT_TRUE(out_.empty());
  Parse(Message(101, 1, {Set(2, TemplateRecord(300, kV4Fields))}));
  Parse(Message(102, 1, {data}));
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].l3_bytes, 500u);
  // Templates are per observation domain and per exporter.
  Parse(Message(103, 2, {data}));
  Parse(Message(103, 1, {data}), 1'800'000'000 * kSec, IpAddress::V4(0xC0000203));
  EXPECT_EQ(Dropped(FlowDropReason::kUnknownTemplate), 3u);
  EXPECT_EQ(out_.size(), 1u);
}

TEST_F(IpfixTest, WithdrawalOfOneAndOfAllTemplates) {
  Parse(Message(100, 1,
                {Set(2, TemplateRecord(256, kV4Fields).Append(TemplateRecord(257, kV4Fields)))}));
  EXPECT_EQ(parser_.template_count(), 2u);
  W withdraw;
  withdraw.U16(256).U16(0);
  Parse(Message(101, 1, {Set(2, withdraw)}));
  EXPECT_EQ(counters_.templates_withdrawn.Get(), 1u);
  Parse(Message(102, 1, {Set(256, V4Record(1, 2, 3, 4, 5, 6, 7, 8))}));
  EXPECT_EQ(Dropped(FlowDropReason::kUnknownTemplate), 1u);
  Parse(Message(102, 1, {Set(257, V4Record(1, 2, 3, 4, 5, 6, 7, 8))}));
  EXPECT_EQ(out_.size(), 1u);
  W all;
  all.U16(2).U16(0);  // template id = set id: every template of the domain
  Parse(Message(103, 1, {Set(2, all)}));
  EXPECT_EQ(parser_.template_count(), 0u);
  EXPECT_EQ(counters_.templates_withdrawn.Get(), 2u);
}

TEST_F(IpfixTest, TemplatesExpireInStreamTime) {
  const std::int64_t t0 = 1'700'000'000 * kSec;
  Parse(Message(100, 1, {Set(2, TemplateRecord(256, kV4Fields))}), t0);
  Parse(Message(100, 1, {Set(256, V4Record(1, 2, 3, 4, 5, 6, 7, 8))}),
        t0 + options_.template_timeout_ns);
  EXPECT_EQ(out_.size(), 1u);
  Parse(Message(100, 1, {Set(256, V4Record(1, 2, 3, 4, 5, 6, 7, 8))}),
        t0 + options_.template_timeout_ns + kSec);
  EXPECT_EQ(out_.size(), 1u);
  EXPECT_EQ(counters_.templates_expired.Get(), 1u);
  EXPECT_EQ(Dropped(FlowDropReason::kUnknownTemplate), 1u);
}

TEST_F(IpfixTest, SamplingFromOptionsRecordsAndFromTheRecordItself) {
  // Options template: scope selectorId (302), then samplingPacketInterval/Space (PSAMP 1-in-100).
  const W opt_tmpl = OptionsTemplateRecord(400, 1, {{302, 4}, {305, 4}, {306, 4}});
  W opt_data;
  opt_data.U32(9).U32(1).U32(99);
  std::vector<Field> fields = kV4Fields;
  fields.push_back({302, 4});
  W rec = V4Record(1, 2, 3, 4, 1000, 10, 7, 8);
  rec.U32(9);
  Parse(Message(
      100, 1,
      {Set(3, opt_tmpl), Set(400, opt_data), Set(2, TemplateRecord(256, fields)), Set(256, rec)}));
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].sampling_interval, 100u);
  EXPECT_EQ(out_[0].ScaledL3Bytes(), 100'000u);
  EXPECT_EQ(counters_.options_records.Get(), 1u);
  // samplingInterval (34) in the data record wins.
  fields = kV4Fields;
  fields.push_back({34, 4});
  W rec2 = V4Record(1, 2, 3, 4, 1000, 10, 7, 8);
  rec2.U32(512);
  Parse(Message(101, 1, {Set(2, TemplateRecord(257, fields)), Set(257, rec2)}));
  ASSERT_EQ(out_.size(), 2u);
  EXPECT_EQ(out_[1].sampling_interval, 512u);
}

TEST_F(IpfixTest, Ipv6ReducedSizeVariableLengthEnterpriseAndUptimeTimes) {
  // Options: systemInitTimeMilliseconds anchors flowStart/EndSysUpTime (RFC 7011 / IANA 160).
  const W opt_tmpl = OptionsTemplateRecord(500, 1, {{143, 4}, {160, 8}});
  W opt_data;
  opt_data.U32(1).U64(1'700'000'000'000ull);
  const std::vector<Field> fields = {
      {27, 16}, {28, 16},    {7, 2},  {11, 2}, {4, 1},     {1, 4} /* reduced size */,
      {2, 2},   {82, 65535}, {22, 4}, {21, 4}, {99, 4, 9}, {243, 2}};
  std::vector<std::uint8_t> s6(16, 0), d6(16, 0);
  s6[0] = 0x20;
  s6[1] = 0x01;
  s6[15] = 1;
  d6[0] = 0x20;
  d6[1] = 0x01;
  d6[15] = 2;
  W rec;
  rec.Bytes(s6).Bytes(d6).U16(5000).U16(53).U8(17).U32(3'000'000'000u).U16(7);
  rec.U8(3).Bytes({'e', 't', 'h'});  // short variable-length form
  rec.U32(1000).U32(61'000).U32(0xdeadbeef).U16(0x1064);
  W rec_long;
  rec_long.Bytes(s6).Bytes(d6).U16(5001).U16(53).U8(17).U32(10).U16(1);
  rec_long.U8(255).U16(300).Bytes(std::vector<std::uint8_t>(300, 'x'));  // long form
  rec_long.U32(0).U32(0).U32(0).U16(0);
  Parse(Message(1'700'000'100, 1,
                {Set(3, opt_tmpl), Set(500, opt_data), Set(2, TemplateRecord(600, fields)),
                 Set(600, rec.Append(rec_long))}));
  ASSERT_EQ(out_.size(), 2u);
  const FlowRecord& f = out_[0];
  EXPECT_FALSE(f.src.IsV4());
  EXPECT_EQ(f.src.bytes[15], 1);
  EXPECT_EQ(f.dst.bytes[15], 2);
  EXPECT_EQ(f.l3_bytes, 3'000'000'000u);
  EXPECT_EQ(f.packets, 7u);
  EXPECT_EQ(f.vlan, 0x064);
  EXPECT_EQ(f.start.ns, (1'700'000'000'000 + 1000) * 1'000'000);
  EXPECT_EQ(f.end.ns, (1'700'000'000'000 + 61'000) * 1'000'000);
  EXPECT_EQ(out_[1].src_port, 5001);
  EXPECT_EQ(out_[1].l3_bytes, 10u);
}

TEST_F(IpfixTest, MalformedMessagesAreCountedByReason) {
  W short_msg;
  short_msg.U16(10).U16(16);
  Parse(short_msg);
  EXPECT_EQ(Dropped(FlowDropReason::kTruncatedDatagram), 1u);
  W bad_version;
  bad_version.U16(8).U16(0).U32(0).U32(0).U32(0);
  Parse(bad_version);
  EXPECT_EQ(Dropped(FlowDropReason::kUnknownVersion), 1u);
  W m = Message(1, 1, {Set(2, TemplateRecord(256, kV4Fields))});
  m.b[3] = static_cast<std::uint8_t>(m.b[3] + 1);  // message length one past the datagram
  Parse(m);
  EXPECT_EQ(Dropped(FlowDropReason::kBadLength), 1u);
  W bad_set = Message(1, 1, {Set(2, TemplateRecord(256, kV4Fields))});
  bad_set.b[19] = 2;  // set length 2 (< 4)
  Parse(bad_set);
  EXPECT_EQ(Dropped(FlowDropReason::kTruncatedSet), 1u);
  Parse(Message(1, 1, {Set(2, TemplateRecord(256, {{8, 0}, {12, 0}}))}));
  EXPECT_EQ(Dropped(FlowDropReason::kBadTemplate), 1u);
  // A record without addresses.
  Parse(
      Message(1, 1, {Set(2, TemplateRecord(258, {{1, 8}, {2, 8}})), Set(258, W().U64(1).U64(2))}));
  EXPECT_EQ(Dropped(FlowDropReason::kMissingFields), 1u);
  // A variable-length field that runs past its set.
  W trunc;
  trunc.U32(1).U32(2).U8(200).U8(0);
  Parse(Message(1, 1,
                {Set(2, TemplateRecord(259, {{8, 4}, {12, 4}, {82, 65535}})), Set(259, trunc)}));
  EXPECT_EQ(Dropped(FlowDropReason::kTruncatedRecord), 1u);
  EXPECT_TRUE(out_.empty());
}

TEST_F(IpfixTest, TemplateTableIsBounded) {
  FlowParserOptions small;
  small.max_templates = 2;
  FlowRecordParser p(small, &counters_);
  W m = Message(1, 1,
                {Set(2, TemplateRecord(256, kV4Fields)
                            .Append(TemplateRecord(257, kV4Fields))
                            .Append(TemplateRecord(258, kV4Fields)))});
  p.Parse(exporter_, m.b.data(), m.b.size(), StreamTime::FromNanos(kSec), &out_);
  EXPECT_EQ(p.template_count(), 2u);
  EXPECT_EQ(Dropped(FlowDropReason::kTemplateTableFull), 1u);
}

TEST_F(IpfixTest, EveryTruncationIsSafe) {
  const W m =
      Message(1'800'000'000, 7,
              {Set(2, TemplateRecord(256, kV4Fields)), Set(256, V4Record(1, 2, 3, 4, 5, 6, 7, 8))});
  for (std::size_t n = 0; n <= m.b.size(); ++n) {
    parser_.Parse(exporter_, m.b.data(), n, StreamTime::FromNanos(kSec), &out_);
  }
  EXPECT_EQ(out_.size(), 1u);  // only the whole message decodes
  EXPECT_EQ(counters_.datagrams.Get(), m.b.size() + 1);
}

// Reason names are a stable interface: snake_case, unique, and each documented in
// docs/flow-protocols.md.
TEST(FlowDropReasons, NamesAreUniqueSnakeCaseAndDocumented) {
  std::ifstream doc_file(std::string(WB_SOURCE_DIR) + "/docs/flow-protocols.md");
  ASSERT_TRUE(doc_file.good());
  std::stringstream doc;
  doc << doc_file.rdbuf();
  std::set<std::string> seen;
  for (std::size_t i = 0; i < kFlowDropReasonCount; ++i) {
    const std::string name(ReasonName(static_cast<FlowDropReason>(i)));
    EXPECT_TRUE(seen.insert(name).second) << name;
    for (char c : name)
      EXPECT_TRUE(std::islower(static_cast<unsigned char>(c)) || c == '_') << name;
    EXPECT_NE(doc.str().find("`" + name + "`"), std::string::npos) << name << " is not documented";
  }
}

}  // namespace
}  // namespace weighbridge::capture
