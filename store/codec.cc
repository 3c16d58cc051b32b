#include "codec.h"

#include <cstring>
#include <limits>

namespace weighbridge::store::internal {
namespace {

constexpr std::uint64_t kSignFlip = std::uint64_t{1} << 63;

// Time deltas in two's complement: any pair of times (even nonsense ones) encodes and decodes
// back exactly, with no signed overflow on either side.
std::int64_t WrapSub(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b));
}

class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {
    out_->push_back(static_cast<char>(kValueVersion));
  }
  void U8(std::uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void Varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_->push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_->push_back(static_cast<char>(v));
  }
  // Zigzag, so that small negative deltas stay short.
  void Signed(std::int64_t v) {
    Varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
  }
  void Double(double d) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &d, sizeof(bits));
    PutBe64(out_, bits);
  }
  void String(const std::string& s) {
    Varint(s.size());
    out_->append(s);
  }
  // IPv4 as 4 bytes, else 16: most addresses here are IPv4.
  void Address(const IpAddress& a) {
    if (a.IsV4()) {
      U8(4);
      out_->append(reinterpret_cast<const char*>(&a.bytes[12]), 4);
    } else {
      U8(6);
      out_->append(reinterpret_cast<const char*>(a.bytes.data()), 16);
    }
  }
  void Pfx(const Prefix& p) {
    Address(p.network);
    U8(static_cast<std::uint8_t>(p.length));
  }
  void Counters(const analytics::DirectionCounters& c) {
    Varint(c.packets);
    Varint(c.l3_bytes);
    Varint(c.payload_bytes);
  }
  // Value version 2: a sample count, and the variance only when there were samples (one byte
  // for counts taken from every packet).
  void Sampling(const analytics::SampleStats& s) {
    Varint(s.samples);
    if (s.samples != 0) Double(s.payload_variance);
  }
  void Match(const analytics::ModelMatch& m) {
    String(m.name);
    Double(m.params);
    String(m.dtype);
    Varint(m.bytes);
    Double(m.error_pct);
  }

 private:
  std::string* out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {
    if (!U8(&version_) || version_ < 1 || version_ > kValueVersion) ok_ = false;
  }
  bool ok() const { return ok_; }
  // The value's encoding version (1..kValueVersion): later versions append fields.
  std::uint8_t version() const { return version_; }
  bool Done() const { return ok_ && pos_ == in_.size(); }

  bool U8(std::uint8_t* v) {
    if (!ok_ || pos_ >= in_.size()) return ok_ = false;
    *v = static_cast<std::uint8_t>(in_[pos_++]);
    return true;
  }
  bool Varint(std::uint64_t* v) {
    std::uint64_t out = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      std::uint8_t b = 0;
      if (!U8(&b)) return false;
      // The tenth byte may only hold the top bit of a 64-bit value.
      if (shift == 63 && b > 1) return ok_ = false;
      out |= std::uint64_t{b & 0x7fU} << shift;
      if ((b & 0x80) == 0) {
        *v = out;
        return true;
      }
    }
    return ok_ = false;
  }
  template <typename T>
  bool Unsigned(T* v) {
    std::uint64_t x = 0;
    if (!Varint(&x)) return false;
    if (x > std::numeric_limits<T>::max()) return ok_ = false;
    *v = static_cast<T>(x);
    return true;
  }
  bool Signed(std::int64_t* v) {
    std::uint64_t x = 0;
    if (!Varint(&x)) return false;
    *v = static_cast<std::int64_t>((x >> 1) ^ (~(x & 1) + 1));
    return true;
  }
  bool Bool(bool* v) {
    std::uint8_t b = 0;
    if (!U8(&b) || b > 1) return ok_ = false;
    *v = b == 1;
    return true;
  }
  template <typename E>
  bool Enum(E* e, std::uint8_t count) {
    std::uint8_t b = 0;
    if (!U8(&b) || b >= count) return ok_ = false;
    *e = static_cast<E>(b);
    return true;
  }
  bool Double(double* d) {
    if (!ok_ || in_.size() - pos_ < 8) return ok_ = false;
    const std::uint64_t bits = GetBe64(in_.data() + pos_);
    pos_ += 8;
    std::memcpy(d, &bits, sizeof(bits));
    return true;
  }
  bool String(std::string* s) {
    std::uint64_t n = 0;
    if (!Varint(&n) || n > in_.size() - pos_) return ok_ = false;
    s->assign(in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool Address(IpAddress* a) {
    std::uint8_t family = 0;
    if (!U8(&family)) return false;
    const std::size_t n = family == 4 ? 4 : family == 6 ? 16 : 0;
    if (n == 0 || in_.size() - pos_ < n) return ok_ = false;
    const auto* p = reinterpret_cast<const std::uint8_t*>(in_.data() + pos_);
    *a = n == 4 ? IpAddress::V4Bytes(p) : IpAddress::V6Bytes(p);
    pos_ += n;
    return true;
  }
  bool Pfx(Prefix* p) {
    std::uint8_t len = 0;
    if (!Address(&p->network) || !U8(&len)) return false;
    if (len > (p->network.IsV4() ? 32 : 128)) return ok_ = false;
    p->length = len;
    return true;
  }
  bool Counters(analytics::DirectionCounters* c) {
    return Varint(&c->packets) && Varint(&c->l3_bytes) && Varint(&c->payload_bytes);
  }
  bool Match(analytics::ModelMatch* m) {
    return String(&m->name) && Double(&m->params) && String(&m->dtype) && Varint(&m->bytes) &&
           Double(&m->error_pct);
  }
  // Version 1 values have no sampling: they were counted exactly, or before it was recorded.
  bool Sampling(analytics::SampleStats* s) {
    *s = analytics::SampleStats{};
    if (version_ < 2) return ok_;
    if (!Varint(&s->samples)) return false;
    if (s->samples == 0) return true;
    if (!Double(&s->payload_variance)) return false;
    // NaN fails both comparisons: a variance is a finite number >= 0.
    if (!(s->payload_variance >= 0 && s->payload_variance <= 1e300)) return ok_ = false;
    return true;
  }

 private:
  std::uint8_t version_ = 0;
  std::string_view in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

constexpr std::uint8_t kDirections = static_cast<std::uint8_t>(capture::Direction::kCount);
constexpr std::uint8_t kEndReasons =
    static_cast<std::uint8_t>(analytics::FlowEndReason::kFlushed) + 1;

}  // namespace

void PutBe64(std::string* out, std::uint64_t v) {
  char b[8];
  for (int i = 7; i >= 0; --i) {
    b[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out->append(b, 8);
}

void PutBe32(std::string* out, std::uint32_t v) {
  char b[4];
  for (int i = 3; i >= 0; --i) {
    b[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out->append(b, 4);
}

std::uint64_t GetBe64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}

std::uint32_t GetBe32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}

void PutTime(std::string* out, std::int64_t ns) {
  PutBe64(out, static_cast<std::uint64_t>(ns) ^ kSignFlip);
}

std::int64_t GetTime(const char* p) {
  return static_cast<std::int64_t>(GetBe64(p) ^ kSignFlip);
}

std::string TimeKey(std::int64_t ns) {
  std::string k;
  PutTime(&k, ns);
  return k;
}

std::string FlowKey(std::int64_t at_ns, std::uint64_t flow_id, std::uint64_t seq) {
  std::string k;
  k.reserve(kFlowKeySize);
  PutTime(&k, at_ns);
  PutBe64(&k, flow_id);
  PutBe64(&k, seq);
  return k;
}

std::string TransferKey(std::int64_t first_ns, std::uint64_t id) {
  std::string k;
  k.reserve(kTransferKeySize);
  PutTime(&k, first_ns);
  PutBe64(&k, id);
  return k;
}

std::string AlertKey(std::int64_t last_seen_ns, std::uint64_t id, std::uint32_t version) {
  std::string k;
  k.reserve(kAlertKeySize);
  PutTime(&k, last_seen_ns);
  PutBe64(&k, id);
  PutBe32(&k, version);
  return k;
}

std::string RollupTimeKey(RollupStep step, std::int64_t ns) {
  std::string k;
  k.push_back(static_cast<char>(step));
  PutTime(&k, ns);
  return k;
}

std::string RollupKey(RollupStep step, std::int64_t start_ns, RollupEntity entity,
                      const Prefix& subject) {
  std::string k;
  k.reserve(kRollupKeySize);
  k.push_back(static_cast<char>(step));
  PutTime(&k, start_ns);
  k.push_back(static_cast<char>(entity));
  k.append(reinterpret_cast<const char*>(subject.network.bytes.data()), 16);
  // The length in the 128-bit form, so that IPv4 and IPv6 lengths never collide.
  k.push_back(static_cast<char>(subject.IsV4() ? subject.length + 96 : subject.length));
  return k;
}

bool ParseRollupKey(std::string_view key, RollupStep* step, std::int64_t* start_ns,
                    RollupEntity* entity, Prefix* subject) {
  if (key.size() != kRollupKeySize) return false;
  const auto s = static_cast<std::uint8_t>(key[0]);
  if (s > 1) return false;
  *step = static_cast<RollupStep>(s);
  *start_ns = GetTime(key.data() + 1);
  const auto e = static_cast<std::uint8_t>(key[9]);
  if (e > 1) return false;
  *entity = static_cast<RollupEntity>(e);
  subject->network = IpAddress::V6Bytes(reinterpret_cast<const std::uint8_t*>(key.data() + 10));
  int len = static_cast<std::uint8_t>(key[26]);
  if (subject->network.IsV4()) {
    if (len < 96) return false;
    len -= 96;
  }
  if (len > 128) return false;
  subject->length = len;
  return true;
}

std::string EncodeFlowUpdate(const analytics::FlowUpdate& u) {
  std::string out;
  out.reserve(64);
  Writer w(&out);
  w.Address(u.key.a);
  w.Address(u.key.b);
  w.Varint(u.key.a_port);
  w.Varint(u.key.b_port);
  w.Varint(u.key.vlan);
  w.U8(u.key.proto);
  w.Varint(u.flow_id);
  // Times as deltas: the event time is absolute, first and last relative to it.
  w.Signed(u.at.ns);
  w.Signed(WrapSub(u.at.ns, u.first.ns));
  w.Signed(WrapSub(u.at.ns, u.last.ns));
  w.Counters(u.a_to_b);
  w.Counters(u.b_to_a);
  w.U8(u.tcp_flags);
  w.U8(static_cast<std::uint8_t>(u.direction));
  w.Varint(u.tenant);
  w.U8(static_cast<std::uint8_t>(u.reason));
  w.U8(u.first_update ? 1 : 0);
  return out;
}

bool DecodeFlowUpdate(std::string_view value, analytics::FlowUpdate* u) {
  Reader r(value);
  std::int64_t at = 0;
  std::int64_t d_first = 0;
  std::int64_t d_last = 0;
  r.Address(&u->key.a) && r.Address(&u->key.b) && r.Unsigned(&u->key.a_port) &&
      r.Unsigned(&u->key.b_port) && r.Unsigned(&u->key.vlan) && r.U8(&u->key.proto) &&
      r.Varint(&u->flow_id) && r.Signed(&at) && r.Signed(&d_first) && r.Signed(&d_last) &&
      r.Counters(&u->a_to_b) && r.Counters(&u->b_to_a) && r.U8(&u->tcp_flags) &&
      r.Enum(&u->direction, kDirections) && r.Unsigned(&u->tenant) &&
      r.Enum(&u->reason, kEndReasons) && r.Bool(&u->first_update);
  if (!r.Done()) return false;
  u->at.ns = at;
  u->first.ns = WrapSub(at, d_first);
  u->last.ns = WrapSub(at, d_last);
  return true;
}

std::string EncodeTransfer(const analytics::Transfer& t) {
  std::string out;
  out.reserve(96);
  Writer w(&out);
  w.Varint(t.id);
  w.Varint(t.version);
  w.Address(t.inside);
  w.Pfx(t.external);
  w.String(t.external_name);
  w.U8(static_cast<std::uint8_t>(t.kind));
  w.Varint(t.tenant);
  w.Signed(t.first.ns);
  w.Signed(WrapSub(t.last.ns, t.first.ns));
  w.Counters(t.sent);
  w.Counters(t.received);
  w.Varint(t.flows);
  w.Varint(t.open_flows);
  w.Varint(t.peak_parallel);
  w.Double(t.peak_rate_bps);
  w.U8(t.ended ? 1 : 0);
  w.Sampling(t.sent.sampling);
  w.Sampling(t.received.sampling);
  return out;
}

bool DecodeTransfer(std::string_view value, analytics::Transfer* t) {
  Reader r(value);
  std::int64_t first = 0;
  std::int64_t span = 0;
  r.Varint(&t->id) && r.Unsigned(&t->version) && r.Address(&t->inside) && r.Pfx(&t->external) &&
      r.String(&t->external_name) && r.Enum(&t->kind, kDirections) && r.Unsigned(&t->tenant) &&
      r.Signed(&first) && r.Signed(&span) && r.Counters(&t->sent) && r.Counters(&t->received) &&
      r.Unsigned(&t->flows) && r.Unsigned(&t->open_flows) && r.Unsigned(&t->peak_parallel) &&
      r.Double(&t->peak_rate_bps) && r.Bool(&t->ended) && r.Sampling(&t->sent.sampling) &&
      r.Sampling(&t->received.sampling);
  if (!r.Done()) return false;
  t->first.ns = first;
  t->last.ns = WrapSub(first, WrapSub(0, span));
  return true;
}

std::string EncodeAlert(const analytics::Alert& a) {
  std::string out;
  out.reserve(128);
  Writer w(&out);
  w.Varint(a.id);
  w.Varint(a.version);
  w.U8(static_cast<std::uint8_t>(a.state));
  w.U8(static_cast<std::uint8_t>(a.kind));
  w.U8(static_cast<std::uint8_t>(a.severity));
  w.Signed(a.last_seen.ns);
  w.Signed(WrapSub(a.last_seen.ns, a.first_seen.ns));
  w.U8(a.has_inside ? 1 : 0);
  w.Pfx(a.inside);
  w.Pfx(a.external);
  w.String(a.external_name);
  w.U8(static_cast<std::uint8_t>(a.direction));
  w.Varint(a.bytes);
  w.Varint(a.payload_bytes);
  w.Varint(a.flows);
  w.String(a.tenant);
  w.U8(a.model_match ? 1 : 0);
  if (a.model_match) w.Match(*a.model_match);
  w.Signed(a.window_ns);
  w.Varint(a.threshold_bytes);
  w.U8(a.projected ? 1 : 0);
  w.Signed(a.projected_crossing.ns);
  w.Double(a.rate_bps);
  w.Varint(a.transfer_id);
  w.Varint(a.linked_ids.size());
  for (std::uint64_t id : a.linked_ids) w.Varint(id);
  w.Sampling(a.sampling);
  w.Varint(a.model_alternatives.size());
  for (const analytics::ModelMatch& m : a.model_alternatives) w.Match(m);
  return out;
}

bool DecodeAlert(std::string_view value, analytics::Alert* a) {
  Reader r(value);
  std::int64_t last = 0;
  std::int64_t span = 0;
  bool has_match = false;
  r.Varint(&a->id) && r.Unsigned(&a->version) &&
      r.Enum(&a->state, static_cast<std::uint8_t>(analytics::AlertState::kCount)) &&
      r.Enum(&a->kind, static_cast<std::uint8_t>(analytics::AlertKind::kCount)) &&
      r.Enum(&a->severity, static_cast<std::uint8_t>(analytics::AlertSeverity::kCount)) &&
      r.Signed(&last) && r.Signed(&span) && r.Bool(&a->has_inside) && r.Pfx(&a->inside) &&
      r.Pfx(&a->external) && r.String(&a->external_name) && r.Enum(&a->direction, kDirections) &&
      r.Varint(&a->bytes) && r.Varint(&a->payload_bytes) && r.Unsigned(&a->flows) &&
      r.String(&a->tenant) && r.Bool(&has_match);
  if (!r.ok()) return false;
  a->model_match.reset();
  if (has_match) {
    analytics::ModelMatch m;
    if (!r.Match(&m)) return false;
    a->model_match = std::move(m);
  }
  std::uint64_t n_linked = 0;
  r.Signed(&a->window_ns) && r.Varint(&a->threshold_bytes) && r.Bool(&a->projected) &&
      r.Signed(&a->projected_crossing.ns) && r.Double(&a->rate_bps) && r.Varint(&a->transfer_id) &&
      r.Varint(&n_linked);
  if (!r.ok() || n_linked > value.size()) return false;  // each id takes at least one byte
  a->linked_ids.clear();
  a->linked_ids.reserve(n_linked);
  for (std::uint64_t i = 0; i < n_linked; ++i) {
    std::uint64_t id = 0;
    if (!r.Varint(&id)) return false;
    a->linked_ids.push_back(id);
  }
  a->model_alternatives.clear();
  if (!r.Sampling(&a->sampling)) return false;
  if (r.version() >= 2) {
    std::uint64_t n = 0;
    if (!r.Varint(&n) || n > value.size()) return false;  // each takes more than one byte
    for (std::uint64_t i = 0; i < n; ++i) {
      analytics::ModelMatch m;
      if (!r.Match(&m)) return false;
      a->model_alternatives.push_back(std::move(m));
    }
  }
  if (!r.Done()) return false;
  a->last_seen.ns = last;
  a->first_seen.ns = WrapSub(last, span);
  return true;
}

std::string EncodeRollup(std::uint16_t tenant, const RollupCounters& c) {
  std::string out;
  Writer w(&out);
  w.Varint(tenant);
  w.Varint(c.in_bytes);
  w.Varint(c.out_bytes);
  w.Varint(c.in_payload_bytes);
  w.Varint(c.out_payload_bytes);
  w.Varint(c.in_packets);
  w.Varint(c.out_packets);
  w.Varint(c.flows);
  return out;
}

bool DecodeRollup(std::string_view value, std::uint16_t* tenant, RollupCounters* c) {
  Reader r(value);
  r.Unsigned(tenant) && r.Varint(&c->in_bytes) && r.Varint(&c->out_bytes) &&
      r.Varint(&c->in_payload_bytes) && r.Varint(&c->out_payload_bytes) &&
      r.Varint(&c->in_packets) && r.Varint(&c->out_packets) && r.Varint(&c->flows);
  return r.Done();
}

}  // namespace weighbridge::store::internal
