#include "weighbridge/analytics/transfer.h"

#include <algorithm>
#include <cstring>

#include "weighbridge/core/hash.h"

namespace weighbridge::analytics {

namespace {

// Peak rate is measured over windows at least this long (of update event times).
constexpr std::int64_t kRateWindowNs = 10 * kNanosPerSecond;

}  // namespace

double Transfer::MeanRateBps() const {
  const double secs = static_cast<double>(last.ns - first.ns) / 1e9;
  return secs > 0 ? static_cast<double>(PayloadBytes()) * 8.0 / secs : 0.0;
}

double Transfer::Asymmetry() const {
  return received.payload_bytes == 0 ? static_cast<double>(sent.payload_bytes)
                                     : static_cast<double>(sent.payload_bytes) /
                                           static_cast<double>(received.payload_bytes);
}

std::size_t Sessionizer::KeyHash::operator()(const Key& k) const noexcept {
  return static_cast<std::size_t>(
      Mix64(HashAddress(k.inside) ^ (HashAddress(k.group) + k.group_len) ^ (k.internal ? 1 : 0)));
}

Sessionizer::Sessionizer(const SessionizerOptions& options, TransferSink* sink)
    : options_(options), sink_(sink) {
  for (std::uint32_t i = 0; i < options_.named_groups.size(); ++i) {
    for (const Prefix& p : options_.named_groups[i].prefixes) named_.Insert(p, i);
  }
}

bool Sessionizer::KeyOf(const FlowUpdate& u, Key* key, bool* a_is_inside, std::string* name) const {
  switch (u.direction) {
    case capture::Direction::kOutbound:
    case capture::Direction::kInternal:
      *a_is_inside = true;
      break;
    case capture::Direction::kInbound:
      *a_is_inside = false;
      break;
    default:
      return false;  // transit: not this site's transfer
  }
  const IpAddress& inside = *a_is_inside ? u.key.a : u.key.b;
  const IpAddress& peer = *a_is_inside ? u.key.b : u.key.a;
  key->inside = inside;
  key->internal = u.direction == capture::Direction::kInternal;
  if (const std::uint32_t* g = named_.Lookup(peer)) {
    // A named group is one peer, whatever address of it a flow used.
    *name = options_.named_groups[*g].name;
    key->group = IpAddress{};
    key->group.bytes[0] = static_cast<std::uint8_t>(*g >> 8);
    key->group.bytes[1] = static_cast<std::uint8_t>(*g);
    key->group_len = 255;
    return true;
  }
  name->clear();
  const int len = peer.IsV4() ? options_.ipv4_group_len : options_.ipv6_group_len;
  key->group = peer.Masked(len);
  key->group_len = static_cast<std::uint8_t>(len);
  return true;
}

void Sessionizer::OnFlowUpdate(const FlowUpdate& u) {
  EndExpired(u.at.ns - options_.max_update_delay_ns);
  Key key;
  bool a_is_inside = true;
  std::string name;
  if (!KeyOf(u, &key, &a_is_inside, &name)) return;

  auto it = open_.find(key);
  if (it != open_.end() && u.first_update && u.first.ns > it->second.t.last.ns + options_.gap_ns) {
    // A new flow after a silence longer than the gap: the old transfer is over.
    End(it->second);
    open_.erase(it);
    it = open_.end();
  }
  if (it == open_.end()) {
    Open o;
    o.t.id = Mix64(KeyHash{}(key) ^ Mix64(static_cast<std::uint64_t>(u.first.ns)));
    o.t.inside = key.inside;
    o.t.external = Prefix{key.group, key.group_len == 255 ? 0 : key.group_len};
    if (key.group_len == 255) {
      const PeerGroupOptions& g =
          options_.named_groups[(key.group.bytes[0] << 8) | key.group.bytes[1]];
      o.t.external = g.prefixes.empty() ? Prefix{} : g.prefixes.front();
    }
    o.t.external_name = name;
    o.t.tenant = u.tenant;
    o.t.first = u.first;
    o.t.last = u.last;
    o.window_start_ns = u.first.ns;
    it = open_.emplace(key, std::move(o)).first;
    ++transfers_started_;
  }
  Open& o = it->second;
  Transfer& t = o.t;
  const DirectionCounters& out = a_is_inside ? u.a_to_b : u.b_to_a;
  const DirectionCounters& in = a_is_inside ? u.b_to_a : u.a_to_b;
  t.sent += out;
  t.received += in;
  t.first = std::min(t.first, u.first);
  t.last = std::max(t.last, u.last);
  const bool ended = u.reason != FlowEndReason::kActive;
  if (u.first_update) {
    ++t.flows;
    if (!ended) ++t.open_flows;
    // A flow that starts and ends within one update was still open alongside the others.
    t.peak_parallel = std::max(t.peak_parallel, t.open_flows + (ended ? 1u : 0u));
  } else if (ended && t.open_flows > 0) {
    --t.open_flows;
  }
  if (key.internal) {
    t.kind = capture::Direction::kInternal;
  } else {
    t.kind = t.sent.payload_bytes >= t.received.payload_bytes ? capture::Direction::kOutbound
                                                              : capture::Direction::kInbound;
  }
  o.window_payload += out.payload_bytes + in.payload_bytes;
  const std::int64_t span = u.at.ns - o.window_start_ns;
  if (span >= kRateWindowNs) {
    t.peak_rate_bps = std::max(
        t.peak_rate_bps, static_cast<double>(o.window_payload) * 8e9 / static_cast<double>(span));
    o.window_start_ns = u.at.ns;
    o.window_payload = 0;
  }
  Emit(o);
  deadlines_.push_back(Deadline{t.last.ns + options_.gap_ns, key});
  std::push_heap(deadlines_.begin(), deadlines_.end(), std::greater<>());
}

void Sessionizer::EndExpired(std::int64_t now_ns) {
  while (!deadlines_.empty() && deadlines_.front().at_ns < now_ns) {
    std::pop_heap(deadlines_.begin(), deadlines_.end(), std::greater<>());
    const Deadline d = deadlines_.back();
    deadlines_.pop_back();
    auto it = open_.find(d.key);
    if (it == open_.end()) continue;
    Open& o = it->second;
    // Stale entry (the transfer moved on since), or a flow still open: its end will come as an
    // update, which makes a new deadline.
    if (o.t.last.ns + options_.gap_ns != d.at_ns || o.t.open_flows != 0) continue;
    End(o);
    open_.erase(it);
  }
}

void Sessionizer::End(Open& o) {
  o.t.ended = true;
  o.t.open_flows = 0;
  if (o.window_payload > 0 && o.t.peak_rate_bps == 0) {
    o.t.peak_rate_bps = o.t.MeanRateBps();  // shorter than one rate window: its mean is its peak
  }
  Emit(o);
}

void Sessionizer::Emit(Open& o) {
  ++o.t.version;
  if (sink_ != nullptr) sink_->OnTransfer(o.t);
}

std::vector<OpenTransferState> Sessionizer::ExportOpen() const {
  std::vector<OpenTransferState> out;
  for (const auto& [k, o] : open_) {
    OpenTransferState st;
    st.key_inside = k.inside;
    st.key_group = k.group;
    st.key_group_len = k.group_len;
    st.key_internal = k.internal;
    st.transfer = o.t;
    st.window_start_ns = o.window_start_ns;
    st.window_payload_bytes = o.window_payload;
    out.push_back(std::move(st));
  }
  std::sort(out.begin(), out.end(), [](const OpenTransferState& x, const OpenTransferState& y) {
    return x.transfer.first != y.transfer.first ? x.transfer.first < y.transfer.first
                                                : x.transfer.id < y.transfer.id;
  });
  return out;
}

void Sessionizer::ImportOpen(std::vector<OpenTransferState> open) {
  for (OpenTransferState& st : open) {
    const Key key{st.key_inside, st.key_group, st.key_group_len, st.key_internal};
    Open o;
    o.t = std::move(st.transfer);
    o.t.open_flows = 0;  // the flows of the earlier run ended with it
    o.window_start_ns = st.window_start_ns;
    o.window_payload = st.window_payload_bytes;
    deadlines_.push_back(Deadline{o.t.last.ns + options_.gap_ns, key});
    std::push_heap(deadlines_.begin(), deadlines_.end(), std::greater<>());
    open_[key] = std::move(o);
  }
}

void Sessionizer::FlushAll() {
  // In a deterministic order: by first time, then id.
  std::vector<Open*> all;
  for (auto& [k, o] : open_) all.push_back(&o);
  std::sort(all.begin(), all.end(), [](const Open* x, const Open* y) {
    return x->t.first != y->t.first ? x->t.first < y->t.first : x->t.id < y->t.id;
  });
  for (Open* o : all) End(*o);
  open_.clear();
  deadlines_.clear();
}

}  // namespace weighbridge::analytics
