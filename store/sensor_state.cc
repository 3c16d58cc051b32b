#include "weighbridge/store/sensor_state.h"

#include <cstring>

#include "codec.h"

namespace weighbridge::store {

namespace {

// 2 added the sampling error to window buckets and tracked transfers; 1 is still read.
constexpr std::uint8_t kStateVersion = 2;
constexpr char kMagic[4] = {'w', 'b', 's', 't'};
// Bounds on counts read back, far above anything a sensor holds, so a corrupt count cannot make
// the decoder allocate without limit before the length checks catch it.
constexpr std::uint64_t kMaxItems = 1u << 26;

// Fixed-width fields: the state is written once per shutdown and read once per start, so
// simplicity beats compactness here. Nested alerts and transfers use the history's own codec.
class Out {
 public:
  void U64(std::uint64_t v) { internal::PutBe64(&s_, v); }
  void I64(std::int64_t v) { U64(static_cast<std::uint64_t>(v)); }
  void Bool(bool b) { s_.push_back(b ? '\1' : '\0'); }
  void Bytes(std::string_view b) {
    U64(b.size());
    s_.append(b);
  }
  void Addr(const IpAddress& a) { s_.append(reinterpret_cast<const char*>(a.bytes.data()), 16); }
  void Pfx(const Prefix& p) {
    Addr(p.network);
    s_.push_back(static_cast<char>(p.length));
  }
  void Sampling(const analytics::SampleStats& s) {
    U64(s.samples);
    std::uint64_t bits = 0;
    std::memcpy(&bits, &s.payload_variance, sizeof bits);
    U64(bits);
  }
  void Alert(const analytics::Alert& a) { Bytes(internal::EncodeAlert(a)); }
  void OptAlert(const std::optional<analytics::Alert>& a) {
    Bool(a.has_value());
    if (a) Alert(*a);
  }
  std::string& str() { return s_; }

 private:
  std::string s_;
};

class In {
 public:
  explicit In(std::string_view s) : s_(s) {}
  bool ok() const { return ok_; }
  bool done() const { return ok_ && pos_ == s_.size(); }
  std::uint64_t U64() {
    if (!Need(8)) return 0;
    const std::uint64_t v = internal::GetBe64(s_.data() + pos_);
    pos_ += 8;
    return v;
  }
  std::int64_t I64() { return static_cast<std::int64_t>(U64()); }
  std::uint64_t Count() {
    const std::uint64_t n = U64();
    if (n > kMaxItems) ok_ = false;
    return ok_ ? n : 0;
  }
  bool Bool() {
    if (!Need(1)) return false;
    const char c = s_[pos_++];
    if (c != '\0' && c != '\1') ok_ = false;
    return c == '\1';
  }
  std::string_view Bytes() {
    const std::uint64_t n = U64();
    if (!Need(n)) return {};
    const std::string_view v = s_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  IpAddress Addr() {
    IpAddress a;
    if (!Need(16)) return a;
    std::memcpy(a.bytes.data(), s_.data() + pos_, 16);
    pos_ += 16;
    return a;
  }
  Prefix Pfx() {
    Prefix p;
    p.network = Addr();
    if (!Need(1)) return p;
    p.length = static_cast<std::uint8_t>(s_[pos_++]);
    if (p.length > 128) ok_ = false;
    return p;
  }
  analytics::SampleStats Sampling() {
    analytics::SampleStats s;
    s.samples = U64();
    const std::uint64_t bits = U64();
    std::memcpy(&s.payload_variance, &bits, sizeof bits);
    if (!(s.payload_variance >= 0 && s.payload_variance <= 1e300)) ok_ = false;
    return s;
  }
  analytics::Alert Alert() {
    analytics::Alert a;
    if (!internal::DecodeAlert(Bytes(), &a)) ok_ = false;
    return a;
  }
  std::optional<analytics::Alert> OptAlert() {
    if (!Bool()) return std::nullopt;
    return Alert();
  }

 private:
  bool Need(std::uint64_t n) {
    if (!ok_ || n > s_.size() - pos_) ok_ = false;
    return ok_;
  }
  std::string_view s_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

void PutVolume(Out& o, const analytics::VolumeState& v) {
  o.Bytes(v.key);
  o.Bytes(v.group_key);
  o.Pfx(v.group);
  o.Pfx(v.storage);
  o.Bytes(v.name);
  o.U64(v.tenant);
  o.U64(v.buckets.size());
  for (const analytics::VolumeBucketState& b : v.buckets) {
    o.I64(b.index);
    o.I64(b.first_ns);
    o.U64(b.l3_bytes);
    o.U64(b.payload_bytes);
    o.Sampling(b.sampling);
  }
  o.I64(v.last_ns);
  o.U64(v.windows.size());
  for (const analytics::WindowAlertState& w : v.windows) {
    o.Bool(w.active);
    o.I64(w.crossed_end_ns);
    o.Bool(w.suppressed);
    o.Alert(w.alert);
    o.U64(w.reported_payload_bytes);
  }
}

analytics::VolumeState GetVolume(In& in, std::uint8_t version) {
  analytics::VolumeState v;
  v.key = std::string(in.Bytes());
  v.group_key = std::string(in.Bytes());
  v.group = in.Pfx();
  v.storage = in.Pfx();
  v.name = std::string(in.Bytes());
  v.tenant = static_cast<std::uint16_t>(in.U64());
  for (std::uint64_t i = 0, n = in.Count(); i < n && in.ok(); ++i) {
    analytics::VolumeBucketState b;
    b.index = in.I64();
    b.first_ns = in.I64();
    b.l3_bytes = in.U64();
    b.payload_bytes = in.U64();
    if (version >= 2) b.sampling = in.Sampling();
    v.buckets.push_back(b);
  }
  v.last_ns = in.I64();
  for (std::uint64_t i = 0, n = in.Count(); i < n && in.ok(); ++i) {
    analytics::WindowAlertState w;
    w.active = in.Bool();
    w.crossed_end_ns = in.I64();
    w.suppressed = in.Bool();
    w.alert = in.Alert();
    w.reported_payload_bytes = in.U64();
    v.windows.push_back(std::move(w));
  }
  return v;
}

}  // namespace

std::string EncodeSensorState(const SensorState& st) {
  Out o;
  o.str().append(kMagic, sizeof kMagic);
  o.str().push_back(static_cast<char>(kStateVersion));
  o.U64(st.open_transfers.size());
  for (const analytics::OpenTransferState& t : st.open_transfers) {
    o.Addr(t.key_inside);
    o.Addr(t.key_group);
    o.U64(t.key_group_len);
    o.Bool(t.key_internal);
    o.Bytes(internal::EncodeTransfer(t.transfer));
    o.I64(t.window_start_ns);
    o.U64(t.window_payload_bytes);
  }
  const analytics::DetectorState& d = st.detector;
  o.Bool(d.started);
  o.I64(d.now_ns);
  o.I64(d.start_ns);
  o.U64(d.transfers.size());
  for (const analytics::TransferTrackState& t : d.transfers) {
    o.U64(t.transfer_id);
    o.U64(t.sent_l3_bytes);
    o.U64(t.sent_payload_bytes);
    o.U64(t.received_l3_bytes);
    o.U64(t.received_payload_bytes);
    o.Sampling(t.sent_sampling);
    o.Sampling(t.received_sampling);
    o.Bool(t.weight_decided);
    o.Bool(t.weight_allowed);
    o.OptAlert(t.weight);
    o.U64(t.reported_payload_bytes);
    o.OptAlert(t.train);
  }
  o.U64(d.ingest.size());
  for (const analytics::VolumeState& v : d.ingest) PutVolume(o, v);
  o.U64(d.staging.size());
  for (const analytics::VolumeState& v : d.staging) PutVolume(o, v);
  o.U64(d.memory.size());
  for (const analytics::IngestMemory& m : d.memory) {
    o.Bytes(m.group_name);
    o.Pfx(m.group);
    o.U64(m.alert_ids.size());
    for (const std::uint64_t id : m.alert_ids) o.U64(id);
    o.I64(m.first_seen.ns);
    o.I64(m.last_seen.ns);
    o.U64(m.payload_bytes);
  }
  return std::move(o.str());
}

std::optional<SensorState> DecodeSensorState(std::string_view blob) {
  if (blob.size() < sizeof kMagic + 1 || std::memcmp(blob.data(), kMagic, sizeof kMagic) != 0) {
    return std::nullopt;
  }
  const auto version = static_cast<std::uint8_t>(blob[sizeof kMagic]);
  if (version < 1 || version > kStateVersion) return std::nullopt;
  In in(blob.substr(sizeof kMagic + 1));
  SensorState st;
  for (std::uint64_t i = 0, n = in.Count(); i < n && in.ok(); ++i) {
    analytics::OpenTransferState t;
    t.key_inside = in.Addr();
    t.key_group = in.Addr();
    t.key_group_len = static_cast<std::uint8_t>(in.U64());
    t.key_internal = in.Bool();
    if (!internal::DecodeTransfer(in.Bytes(), &t.transfer)) return std::nullopt;
    t.window_start_ns = in.I64();
    t.window_payload_bytes = in.U64();
    st.open_transfers.push_back(std::move(t));
  }
  analytics::DetectorState& d = st.detector;
  d.started = in.Bool();
  d.now_ns = in.I64();
  d.start_ns = in.I64();
  for (std::uint64_t i = 0, n = in.Count(); i < n && in.ok(); ++i) {
    analytics::TransferTrackState t;
    t.transfer_id = in.U64();
    t.sent_l3_bytes = in.U64();
    t.sent_payload_bytes = in.U64();
    t.received_l3_bytes = in.U64();
    t.received_payload_bytes = in.U64();
    if (version >= 2) {
      t.sent_sampling = in.Sampling();
      t.received_sampling = in.Sampling();
    }
    t.weight_decided = in.Bool();
    t.weight_allowed = in.Bool();
    t.weight = in.OptAlert();
    t.reported_payload_bytes = in.U64();
    t.train = in.OptAlert();
    d.transfers.push_back(std::move(t));
  }
  for (std::uint64_t i = 0, n = in.Count(); i < n && in.ok(); ++i)
    d.ingest.push_back(GetVolume(in, version));
  for (std::uint64_t i = 0, n = in.Count(); i < n && in.ok(); ++i) {
    d.staging.push_back(GetVolume(in, version));
  }
  for (std::uint64_t i = 0, n = in.Count(); i < n && in.ok(); ++i) {
    analytics::IngestMemory m;
    m.group_name = std::string(in.Bytes());
    m.group = in.Pfx();
    for (std::uint64_t j = 0, k = in.Count(); j < k && in.ok(); ++j)
      m.alert_ids.push_back(in.U64());
    m.first_seen = StreamTime{in.I64()};
    m.last_seen = StreamTime{in.I64()};
    m.payload_bytes = in.U64();
    d.memory.push_back(std::move(m));
  }
  if (!in.done()) return std::nullopt;
  return st;
}

}  // namespace weighbridge::store
