// IPFIX (RFC 7011) and NetFlow v9 (RFC 3954): template-driven records. Both are parsed by one
// walker: the set ids and header differ, the field specifiers and data records do not (v9 has
// no enterprise bit and no variable-length fields). NetFlow v5 lives in netflow_v5.cc.
//
// Templates are scoped by (exporter address, observation domain / source id, version), as both
// RFCs require. Every length (message, set, template, variable-length field) is checked against
// its container before it is used.
#include "weighbridge/capture/ipfix.h"

#include <algorithm>
#include <limits>
#include <map>

#include "netflow_v5.h"
#include "weighbridge/core/bytes.h"

namespace weighbridge::capture {

std::string_view FlowProtocolName(FlowProtocol p) {
  switch (p) {
    case FlowProtocol::kSflow:
      return "sflow";
    case FlowProtocol::kIpfix:
      return "ipfix";
    case FlowProtocol::kNetflow:
      return "netflow";
  }
  return "unknown";
}

std::string_view ReasonName(FlowDropReason r) {
  switch (r) {
    case FlowDropReason::kExporterNotAllowed:
      return "exporter_not_allowed";
    case FlowDropReason::kTruncatedDatagram:
      return "truncated_datagram";
    case FlowDropReason::kUnknownVersion:
      return "unknown_version";
    case FlowDropReason::kBadLength:
      return "bad_length";
    case FlowDropReason::kTruncatedSet:
      return "truncated_set";
    case FlowDropReason::kBadTemplate:
      return "bad_template";
    case FlowDropReason::kUnknownTemplate:
      return "unknown_template";
    case FlowDropReason::kTemplateTableFull:
      return "template_table_full";
    case FlowDropReason::kTruncatedRecord:
      return "truncated_record";
    case FlowDropReason::kMissingFields:
      return "missing_fields";
    case FlowDropReason::kTruncatedSample:
      return "truncated_sample";
    case FlowDropReason::kBadAgentAddress:
      return "bad_agent_address";
    case FlowDropReason::kUnsupportedHeaderProtocol:
      return "unsupported_header_protocol";
    case FlowDropReason::kSampleDecodeError:
      return "sample_decode_error";
    case FlowDropReason::kBadSamplingRate:
      return "bad_sampling_rate";
    case FlowDropReason::kFragmentedDatagram:
      return "fragmented_datagram";
    case FlowDropReason::kCount:
      break;
  }
  return "unknown";
}

namespace internal {
namespace {

constexpr std::uint16_t kVersionV5 = 5;
constexpr std::uint16_t kVersionV9 = 9;
constexpr std::uint16_t kVersionIpfix = 10;
constexpr std::size_t kIpfixHeaderBytes = 16;
constexpr std::size_t kV9HeaderBytes = 20;
constexpr std::uint16_t kFirstDataSetId = 256;
constexpr std::uint16_t kVariableLength = 65535;  // IPFIX: the record carries the length
// IPFIX set ids 2/3 and v9 flowset ids 0/1.
constexpr std::uint16_t kIpfixTemplateSet = 2;
constexpr std::uint16_t kIpfixOptionsTemplateSet = 3;
constexpr std::uint16_t kV9TemplateSet = 0;
constexpr std::uint16_t kV9OptionsTemplateSet = 1;
// Seconds from the NTP epoch (1900) to the Unix epoch, for dateTimeMicro/Nanoseconds.
constexpr std::int64_t kNtpToUnixSeconds = 2'208'988'800;
constexpr std::uint64_t kDefaultSampler = std::numeric_limits<std::uint64_t>::max();

// Information element ids (IANA IPFIX registry; 1-127 are NetFlow v9's field types too).
enum Ie : std::uint16_t {
  kOctetDeltaCount = 1,
  kPacketDeltaCount = 2,
  kProtocolIdentifier = 4,
  kTcpControlBits = 6,
  kSourceTransportPort = 7,
  kSourceIpv4Address = 8,
  kDestinationTransportPort = 11,
  kDestinationIpv4Address = 12,
  kFlowEndSysUpTime = 21,
  kFlowStartSysUpTime = 22,
  kSourceIpv6Address = 27,
  kDestinationIpv6Address = 28,
  kSamplingInterval = 34,
  kSamplerId = 48,
  kSamplerRandomInterval = 50,
  kVlanId = 58,
  kFlowEndReason = 136,
  kFlowStartSeconds = 150,
  kFlowEndSeconds = 151,
  kFlowStartMilliseconds = 152,
  kFlowEndMilliseconds = 153,
  kFlowStartMicroseconds = 154,
  kFlowEndMicroseconds = 155,
  kFlowStartNanoseconds = 156,
  kFlowEndNanoseconds = 157,
  kSystemInitTimeMilliseconds = 160,
  kDot1qVlanId = 243,
  kSelectorId = 302,
  kSamplingPacketInterval = 305,
  kSamplingPacketSpace = 306,
};

struct TemplateField {
  std::uint16_t id = 0;
  std::uint16_t length = 0;  // kVariableLength: from the record (IPFIX only)
  bool enterprise = false;   // an enterprise-specific element: skipped
  bool scope = false;        // an options scope field
};

struct Template {
  std::vector<TemplateField> fields;
  std::size_t min_record_bytes = 0;
  bool options = false;
  std::int64_t last_seen_ns = 0;
};

struct DomainKey {
  IpAddress exporter;
  std::uint32_t domain = 0;
  std::uint16_t version = 0;
  friend auto operator<=>(const DomainKey&, const DomainKey&) = default;
};

struct TemplateKey {
  DomainKey domain;
  std::uint16_t id = 0;
  friend auto operator<=>(const TemplateKey&, const TemplateKey&) = default;
};

struct SamplerKey {
  DomainKey domain;
  std::uint64_t sampler = 0;  // kDefaultSampler: options that named no sampler
  friend auto operator<=>(const SamplerKey&, const SamplerKey&) = default;
};

// n <= 8. Reduced-size encoding (RFC 7011 6.2): an unsigned integer may be sent in fewer bytes.
std::uint64_t LoadUint(const std::uint8_t* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

std::int64_t NtpToNanos(std::uint64_t ntp, bool micro) {
  const auto secs = static_cast<std::int64_t>(ntp >> 32) - kNtpToUnixSeconds;
  std::uint64_t frac = ntp & 0xffffffffu;
  if (micro) frac &= ~std::uint64_t{0x7ff};  // RFC 7011 6.1.9: the low 11 bits are ignored
  return secs * kNanosPerSecond + static_cast<std::int64_t>((frac * 1'000'000'000u) >> 32);
}

// What one data or options record said, before it becomes a FlowRecord or sampling state.
struct RecordFields {
  FlowRecord rec;
  bool have_src = false;
  bool have_dst = false;
  bool have_start_abs = false;
  bool have_end_abs = false;
  std::int64_t start_abs_ns = 0;
  std::int64_t end_abs_ns = 0;
  bool have_start_up = false;
  bool have_end_up = false;
  std::uint32_t start_up_ms = 0;
  std::uint32_t end_up_ms = 0;
  std::uint64_t sampling = 0;  // 1-in-N, 0: not in the record
  bool have_sampler = false;
  std::uint64_t sampler = 0;
  std::uint64_t packet_interval = 0;
  std::uint64_t packet_space = 0;
  bool have_packet_interval = false;
  bool have_init = false;
  std::int64_t init_ms = 0;
};

void ApplyField(const TemplateField& f, const std::uint8_t* p, std::size_t n, bool v9,
                RecordFields* r) {
  // v9 options scope fields use their own numbering (system, interface, line card, ...), not
  // field types: nothing to take from them.
  if (f.enterprise || (v9 && f.scope)) return;
  const std::uint64_t u = n <= 8 ? LoadUint(p, n) : 0;
  switch (f.id) {
    case kOctetDeltaCount:
      r->rec.l3_bytes = u;
      break;
    case kPacketDeltaCount:
      r->rec.packets = u;
      break;
    case kProtocolIdentifier:
      r->rec.proto = static_cast<std::uint8_t>(u);
      break;
    case kTcpControlBits:
      r->rec.tcp_flags = static_cast<std::uint8_t>(u);
      break;
    case kSourceTransportPort:
      r->rec.src_port = static_cast<std::uint16_t>(u);
      break;
    case kDestinationTransportPort:
      r->rec.dst_port = static_cast<std::uint16_t>(u);
      break;
    case kSourceIpv4Address:
      if (n == 4) {
        r->rec.src = IpAddress::V4Bytes(p);
        r->have_src = true;
      }
      break;
    case kDestinationIpv4Address:
      if (n == 4) {
        r->rec.dst = IpAddress::V4Bytes(p);
        r->have_dst = true;
      }
      break;
    case kSourceIpv6Address:
      if (n == 16) {
        r->rec.src = IpAddress::V6Bytes(p);
        r->have_src = true;
      }
      break;
    case kDestinationIpv6Address:
      if (n == 16) {
        r->rec.dst = IpAddress::V6Bytes(p);
        r->have_dst = true;
      }
      break;
    case kVlanId:
    case kDot1qVlanId:
      r->rec.vlan = static_cast<std::uint16_t>(u & 0x0fff);
      break;
    case kFlowEndReason:
      r->rec.end_reason = static_cast<std::uint8_t>(u);
      break;
    case kFlowStartSysUpTime:
      r->start_up_ms = static_cast<std::uint32_t>(u);
      r->have_start_up = true;
      break;
    case kFlowEndSysUpTime:
      r->end_up_ms = static_cast<std::uint32_t>(u);
      r->have_end_up = true;
      break;
    case kFlowStartSeconds:
    case kFlowEndSeconds:
    case kFlowStartMilliseconds:
    case kFlowEndMilliseconds: {
      const bool seconds = f.id == kFlowStartSeconds || f.id == kFlowEndSeconds;
      const auto ns = static_cast<std::int64_t>(u) * (seconds ? kNanosPerSecond : 1'000'000);
      if (f.id == kFlowStartSeconds || f.id == kFlowStartMilliseconds) {
        r->start_abs_ns = ns;
        r->have_start_abs = true;
      } else {
        r->end_abs_ns = ns;
        r->have_end_abs = true;
      }
      break;
    }
    case kFlowStartMicroseconds:
    case kFlowStartNanoseconds:
      if (n == 8) {
        r->start_abs_ns = NtpToNanos(u, f.id == kFlowStartMicroseconds);
        r->have_start_abs = true;
      }
      break;
    case kFlowEndMicroseconds:
    case kFlowEndNanoseconds:
      if (n == 8) {
        r->end_abs_ns = NtpToNanos(u, f.id == kFlowEndMicroseconds);
        r->have_end_abs = true;
      }
      break;
    case kSamplingInterval:
    case kSamplerRandomInterval:
      if (u != 0) r->sampling = u;
      break;
    case kSamplerId:
    case kSelectorId:
      r->sampler = u;
      r->have_sampler = true;
      break;
    case kSamplingPacketInterval:
      r->packet_interval = u;
      r->have_packet_interval = true;
      break;
    case kSamplingPacketSpace:
      r->packet_space = u;
      break;
    case kSystemInitTimeMilliseconds:
      r->init_ms = static_cast<std::int64_t>(u);
      r->have_init = true;
      break;
    default:
      break;
  }
}

// 1-in-N from the record's own sampling fields; 0 when it has none.
std::uint64_t RecordSampling(const RecordFields& r) {
  if (r.sampling != 0) return r.sampling;
  if (r.have_packet_interval && r.packet_interval != 0) {
    // PSAMP systematic count-based: `interval` packets taken, then `space` skipped.
    const std::uint64_t period = r.packet_interval + r.packet_space;
    return std::max<std::uint64_t>(1, (period + r.packet_interval / 2) / r.packet_interval);
  }
  return 0;
}

}  // namespace

class FlowRecordParserImpl {
 public:
  FlowRecordParserImpl(const FlowParserOptions& options, FlowProtocolCounters* counters)
      : options_(options), c_(counters) {}

  void Parse(const IpAddress& exporter, const std::uint8_t* data, std::size_t len,
             StreamTime received, std::vector<FlowRecord>* out) {
    c_->datagrams.Add(1);
    MaybeSweep(received);
    if (len < 2) return DropDatagram(FlowDropReason::kTruncatedDatagram);
    const std::uint16_t version = LoadBe16(data);
    if (version == kVersionV5) {
      ParseNetflowV5(exporter, data, len, received, out, c_);
      return;
    }
    if (version != kVersionV9 && version != kVersionIpfix) {
      return DropDatagram(FlowDropReason::kUnknownVersion);
    }
    Message m;
    m.exporter = exporter;
    m.received = received;
    m.v9 = version == kVersionV9;
    std::size_t begin = 0;
    std::size_t end = 0;
    if (m.v9) {
      if (len < kV9HeaderBytes) return DropDatagram(FlowDropReason::kTruncatedDatagram);
      m.uptime_ms = LoadBe32(data + 4);
      m.export_ns = std::int64_t{LoadBe32(data + 8)} * kNanosPerSecond;
      m.domain = {exporter, LoadBe32(data + 16), version};
      begin = kV9HeaderBytes;
      end = len;  // v9 has no message length: the datagram is the message
    } else {
      if (len < kIpfixHeaderBytes) return DropDatagram(FlowDropReason::kTruncatedDatagram);
      const std::uint16_t msg_len = LoadBe16(data + 2);
      if (msg_len < kIpfixHeaderBytes || msg_len > len) {
        return DropDatagram(FlowDropReason::kBadLength);
      }
      m.export_ns = std::int64_t{LoadBe32(data + 4)} * kNanosPerSecond;
      m.domain = {exporter, LoadBe32(data + 12), version};
      begin = kIpfixHeaderBytes;
      end = msg_len;
    }
    std::size_t off = begin;
    while (end - off >= 4) {
      const std::uint16_t set_id = LoadBe16(data + off);
      const std::uint16_t set_len = LoadBe16(data + off + 2);
      if (set_len < 4 || set_len > end - off) {
        c_->Drop(FlowDropReason::kTruncatedSet);
        return;
      }
      const std::uint8_t* body = data + off + 4;
      const std::size_t body_len = set_len - 4u;
      off += set_len;
      if (set_id >= kFirstDataSetId) {
        DataSet(m, set_id, body, body_len, out);
      } else if ((m.v9 && set_id == kV9TemplateSet) || (!m.v9 && set_id == kIpfixTemplateSet)) {
        TemplateSet(m, body, body_len, false);
      } else if ((m.v9 && set_id == kV9OptionsTemplateSet) ||
                 (!m.v9 && set_id == kIpfixOptionsTemplateSet)) {
        if (m.v9) {
          V9OptionsTemplateSet(m, body, body_len);
        } else {
          TemplateSet(m, body, body_len, true);
        }
      } else {
        c_->skipped.Add(1);  // reserved set ids
      }
    }
  }

  std::size_t template_count() const { return templates_.size(); }

 private:
  struct Message {
    IpAddress exporter;
    StreamTime received;
    bool v9 = false;
    std::uint32_t uptime_ms = 0;  // v9 header sys_uptime
    std::int64_t export_ns = 0;
    DomainKey domain;
  };

  void DropDatagram(FlowDropReason r) {
    c_->datagrams_dropped.Add(1);
    c_->Drop(r);
  }

  void MaybeSweep(StreamTime now) {
    // Expired templates are also caught when data refers to them; this sweep bounds memory
    // when an exporter goes away. At most a few full passes per timeout.
    if (now.ns - last_sweep_ns_ < options_.template_timeout_ns / 4) return;
    last_sweep_ns_ = now.ns;
    for (auto it = templates_.begin(); it != templates_.end();) {
      if (now.ns - it->second.last_seen_ns > options_.template_timeout_ns) {
        it = templates_.erase(it);
        c_->templates_expired.Add(1);
      } else {
        ++it;
      }
    }
  }

  // Reads `count` field specifiers at *off; false when they do not fit.
  bool ReadFields(const Message& m, const std::uint8_t* p, std::size_t len, std::size_t* off,
                  std::size_t count, bool scope, Template* t) {
    for (std::size_t i = 0; i < count; ++i) {
      if (len - *off < 4) return false;
      TemplateField f;
      const std::uint16_t raw = LoadBe16(p + *off);
      f.length = LoadBe16(p + *off + 2);
      f.scope = scope;
      *off += 4;
      if (!m.v9 && (raw & 0x8000) != 0) {
        if (len - *off < 4) return false;
        *off += 4;  // enterprise number
        f.enterprise = true;
      }
      f.id = static_cast<std::uint16_t>(m.v9 ? raw : raw & 0x7fff);
      if (f.length == kVariableLength && m.v9) return false;  // v9 has no variable length
      t->min_record_bytes += f.length == kVariableLength ? 1 : f.length;
      t->fields.push_back(f);
    }
    return true;
  }

  void Store(const Message& m, std::uint16_t id, Template t) {
    t.last_seen_ns = m.received.ns;
    const TemplateKey key{m.domain, id};
    auto it = templates_.find(key);
    if (it == templates_.end() && templates_.size() >= options_.max_templates) {
      last_sweep_ns_ = std::numeric_limits<std::int64_t>::min() / 2;  // sweep now
      MaybeSweep(m.received);
      if (templates_.size() >= options_.max_templates) {
        c_->Drop(FlowDropReason::kTemplateTableFull);
        return;
      }
    }
    templates_[key] = std::move(t);
    c_->templates_learned.Add(1);
  }

  void Withdraw(const Message& m, std::uint16_t id, bool options) {
    if (id == (options ? kIpfixOptionsTemplateSet : kIpfixTemplateSet)) {
      // RFC 7011 8.1: template id = set id withdraws every template of that kind.
      for (auto it = templates_.lower_bound(TemplateKey{m.domain, 0});
           it != templates_.end() && it->first.domain == m.domain;) {
        if (it->second.options == options) {
          it = templates_.erase(it);
          c_->templates_withdrawn.Add(1);
        } else {
          ++it;
        }
      }
      return;
    }
    if (templates_.erase(TemplateKey{m.domain, id}) != 0) c_->templates_withdrawn.Add(1);
  }

  // IPFIX template or options template set, or v9 template flowset.
  void TemplateSet(const Message& m, const std::uint8_t* p, std::size_t len, bool options) {
    std::size_t off = 0;
    while (len - off >= 4) {
      const std::uint16_t id = LoadBe16(p + off);
      const std::uint16_t count = LoadBe16(p + off + 2);
      if (id == 0 && count == 0) return;  // padding
      off += 4;
      if (count == 0 && !m.v9) {
        Withdraw(m, id, options);
        continue;
      }
      if (id < kFirstDataSetId) {
        if (m.v9 && count == 0) return;  // v9 padding
        c_->Drop(FlowDropReason::kBadTemplate);
        return;  // no way to find the next template
      }
      Template t;
      t.options = options;
      std::size_t scope_count = 0;
      if (options) {
        if (len - off < 2) {
          c_->Drop(FlowDropReason::kBadTemplate);
          return;
        }
        scope_count = LoadBe16(p + off);
        off += 2;
        if (scope_count == 0 || scope_count > count) {
          c_->Drop(FlowDropReason::kBadTemplate);
          return;
        }
      }
      if (!ReadFields(m, p, len, &off, scope_count, true, &t) ||
          !ReadFields(m, p, len, &off, count - scope_count, false, &t)) {
        c_->Drop(FlowDropReason::kBadTemplate);
        return;
      }
      if (t.min_record_bytes == 0) {
        c_->Drop(FlowDropReason::kBadTemplate);  // records of no bytes: cannot be walked
        continue;
      }
      Store(m, id, std::move(t));
    }
  }

  // v9 options template: id, scope length and option length in bytes, then the fields.
  void V9OptionsTemplateSet(const Message& m, const std::uint8_t* p, std::size_t len) {
    std::size_t off = 0;
    while (len - off >= 6) {
      const std::uint16_t id = LoadBe16(p + off);
      const std::uint16_t scope_bytes = LoadBe16(p + off + 2);
      const std::uint16_t option_bytes = LoadBe16(p + off + 4);
      if (id < kFirstDataSetId) return;  // padding (or nonsense we cannot step over)
      off += 6;
      if (scope_bytes % 4 != 0 || option_bytes % 4 != 0) {
        c_->Drop(FlowDropReason::kBadTemplate);
        return;
      }
      Template t;
      t.options = true;
      if (!ReadFields(m, p, len, &off, scope_bytes / 4u, true, &t) ||
          !ReadFields(m, p, len, &off, option_bytes / 4u, false, &t) || t.min_record_bytes == 0) {
        c_->Drop(FlowDropReason::kBadTemplate);
        return;
      }
      Store(m, id, std::move(t));
    }
  }

  const Template* Find(const Message& m, std::uint16_t id) {
    auto it = templates_.find(TemplateKey{m.domain, id});
    if (it == templates_.end()) return nullptr;
    if (m.received.ns - it->second.last_seen_ns > options_.template_timeout_ns) {
      templates_.erase(it);
      c_->templates_expired.Add(1);
      return nullptr;
    }
    return &it->second;
  }

  void DataSet(const Message& m, std::uint16_t id, const std::uint8_t* p, std::size_t len,
               std::vector<FlowRecord>* out) {
    const Template* t = Find(m, id);
    if (t == nullptr) {
      c_->Drop(FlowDropReason::kUnknownTemplate);
      return;
    }
    std::size_t off = 0;
    // Fewer bytes than the shortest record are padding (RFC 7011 3.3.1).
    while (len - off >= t->min_record_bytes) {
      RecordFields r;
      for (const TemplateField& f : t->fields) {
        std::size_t n = f.length;
        if (n == kVariableLength) {
          if (len - off < 1) return c_->Drop(FlowDropReason::kTruncatedRecord);
          n = p[off++];
          if (n == 255) {
            if (len - off < 2) return c_->Drop(FlowDropReason::kTruncatedRecord);
            n = LoadBe16(p + off);
            off += 2;
          }
        }
        if (len - off < n) return c_->Drop(FlowDropReason::kTruncatedRecord);
        ApplyField(f, p + off, n, m.v9, &r);
        off += n;
      }
      if (t->options) {
        OptionsRecord(m, r);
      } else {
        DataRecord(m, &r, out);
      }
    }
  }

  void OptionsRecord(const Message& m, const RecordFields& r) {
    c_->options_records.Add(1);
    if (r.have_init) system_init_ms_[m.domain] = r.init_ms;
    const std::uint64_t s = RecordSampling(r);
    if (s == 0) return;
    const SamplerKey key{m.domain, r.have_sampler ? r.sampler : kDefaultSampler};
    if (samplers_.size() >= options_.max_samplers && samplers_.count(key) == 0) return;
    samplers_[key] = static_cast<std::uint32_t>(std::min<std::uint64_t>(s, UINT32_MAX));
  }

  void DataRecord(const Message& m, RecordFields* r, std::vector<FlowRecord>* out) {
    if (!r->have_src || !r->have_dst) {
      c_->Drop(FlowDropReason::kMissingFields);
      return;
    }
    FlowRecord& f = r->rec;
    if (f.proto == 1 || f.proto == 58) {
      // Some exporters put ICMP type << 8 | code in destinationTransportPort; weighbridge's flow
      // key has no ports for ICMP (ARCHITECTURE.md "Flows out").
      f.src_port = 0;
      f.dst_port = 0;
    }
    f.format = m.v9 ? FlowRecordFormat::kNetflowV9 : FlowRecordFormat::kIpfix;
    f.exporter = m.exporter;
    f.observation_domain = m.domain.domain;
    f.received = m.received;
    // Times: absolute elements first; else sysUpTime-relative ones, anchored by the v9 header
    // (uptime at export) or, for IPFIX, by systemInitTimeMilliseconds; else the export time.
    std::int64_t init_ms = 0;
    bool have_init = r->have_init;
    if (have_init) {
      init_ms = r->init_ms;
    } else if (!m.v9) {
      auto it = system_init_ms_.find(m.domain);
      if (it != system_init_ms_.end()) {
        init_ms = it->second;
        have_init = true;
      }
    }
    auto up = [&](std::uint32_t ms) {
      if (m.v9) return UptimeToStreamTime(m.export_ns, m.uptime_ms, ms);
      if (have_init) return StreamTime::FromNanos((init_ms + std::int64_t{ms}) * 1'000'000);
      return StreamTime::FromNanos(m.export_ns);
    };
    bool have_start = true;
    bool have_end = true;
    if (r->have_start_abs) {
      f.start = StreamTime::FromNanos(r->start_abs_ns);
    } else if (r->have_start_up) {
      f.start = up(r->start_up_ms);
    } else {
      have_start = false;
    }
    if (r->have_end_abs) {
      f.end = StreamTime::FromNanos(r->end_abs_ns);
    } else if (r->have_end_up) {
      f.end = up(r->end_up_ms);
    } else {
      have_end = false;
    }
    if (!have_start && !have_end) {
      f.start = f.end = StreamTime::FromNanos(m.export_ns);
    } else if (!have_start) {
      f.start = f.end;
    } else if (!have_end) {
      f.end = f.start;
    }
    std::uint64_t s = RecordSampling(*r);
    if (s == 0) {
      auto it =
          samplers_.find(SamplerKey{m.domain, r->have_sampler ? r->sampler : kDefaultSampler});
      if (it == samplers_.end() && r->have_sampler) {
        it = samplers_.find(SamplerKey{m.domain, kDefaultSampler});
      }
      s = it == samplers_.end() ? 1 : it->second;
    }
    f.sampling_interval = static_cast<std::uint32_t>(std::min<std::uint64_t>(s, UINT32_MAX));
    out->push_back(f);
    c_->flow_records.Add(1);
  }

  FlowParserOptions options_;
  FlowProtocolCounters* c_;
  std::map<TemplateKey, Template> templates_;
  std::map<SamplerKey, std::uint32_t> samplers_;
  std::map<DomainKey, std::int64_t> system_init_ms_;
  std::int64_t last_sweep_ns_ = std::numeric_limits<std::int64_t>::min() / 2;
};

}  // namespace internal

FlowRecordParser::FlowRecordParser(const FlowParserOptions& options, FlowProtocolCounters* counters)
    : impl_(std::make_unique<internal::FlowRecordParserImpl>(options, counters)) {}
FlowRecordParser::~FlowRecordParser() = default;

void FlowRecordParser::Parse(const IpAddress& exporter, const std::uint8_t* data, std::size_t len,
                             StreamTime received, std::vector<FlowRecord>* out) {
  impl_->Parse(exporter, data, len, received, out);
}

std::size_t FlowRecordParser::template_count() const {
  return impl_->template_count();
}

}  // namespace weighbridge::capture
