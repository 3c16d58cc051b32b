#include "codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>
#include <vector>

#include "weighbridge/store/sensor_state.h"

namespace weighbridge::store::internal {
namespace {

constexpr std::int64_t kT0 = 1'767'225'600'000'000'000;  // 2026-01-01T00:00:00Z

analytics::FlowUpdate FullFlow() {
  analytics::FlowUpdate u;
  u.key.a = *IpAddress::Parse("2001:db8:100::7");
  u.key.b = *IpAddress::Parse("2001:db8:ffff::1");
  u.key.a_port = 65535;
  u.key.b_port = 1;
  u.key.vlan = 4094;
  u.key.proto = 17;
  u.flow_id = 0xfedcba9876543210ULL;
  u.first = StreamTime{kT0 - 5'000'000'007};
  u.last = StreamTime{kT0 + 3};
  u.at = StreamTime{kT0 + 60'000'000'000};
  u.a_to_b = {std::numeric_limits<std::uint64_t>::max(), 1ULL << 40, 12345};
  u.b_to_a = {0, 7, std::numeric_limits<std::uint64_t>::max() - 1};
  u.tcp_flags = 0x1b;
  u.direction = capture::Direction::kInternal;
  u.tenant = 65535;
  u.reason = analytics::FlowEndReason::kEvicted;
  u.first_update = false;
  return u;
}

void ExpectSame(const analytics::FlowUpdate& x, const analytics::FlowUpdate& y) {
  EXPECT_EQ(x.key, y.key);
  EXPECT_EQ(x.flow_id, y.flow_id);
  EXPECT_EQ(x.first, y.first);
  EXPECT_EQ(x.last, y.last);
  EXPECT_EQ(x.at, y.at);
  EXPECT_EQ(x.a_to_b, y.a_to_b);
  EXPECT_EQ(x.b_to_a, y.b_to_a);
  EXPECT_EQ(x.tcp_flags, y.tcp_flags);
  EXPECT_EQ(x.direction, y.direction);
  EXPECT_EQ(x.tenant, y.tenant);
  EXPECT_EQ(x.reason, y.reason);
  EXPECT_EQ(x.first_update, y.first_update);
}

TEST(Codec, FlowUpdateRoundTripsEveryField) {
  const analytics::FlowUpdate u = FullFlow();
  analytics::FlowUpdate back;
  ASSERT_TRUE(DecodeFlowUpdate(EncodeFlowUpdate(u), &back));
  ExpectSame(u, back);
  // IPv4, defaults and a negative time too.
  analytics::FlowUpdate v;
  v.key.a = IpAddress::V4(0x0a000001);
  v.key.b = IpAddress::V4(0xffffffff);
  v.at = StreamTime{-5};
  v.first = StreamTime{std::numeric_limits<std::int64_t>::min() / 2};
  ASSERT_TRUE(DecodeFlowUpdate(EncodeFlowUpdate(v), &back));
  ExpectSame(v, back);
  // Extreme times (a broken clock) still round-trip: deltas wrap, they do not overflow.
  v.at = StreamTime{std::numeric_limits<std::int64_t>::min()};
  v.first = StreamTime{std::numeric_limits<std::int64_t>::max()};
  v.last = StreamTime{0};
  ASSERT_TRUE(DecodeFlowUpdate(EncodeFlowUpdate(v), &back));
  ExpectSame(v, back);
}

TEST(Codec, TransferRoundTripsEveryField) {
  analytics::Transfer t;
  t.id = 0x8000000000000001ULL;
  t.version = 4'000'000'000U;
  t.inside = *IpAddress::Parse("10.1.2.3");
  t.external = *Prefix::Parse("2001:db8:aa::/48");
  t.external_name = "backup-partner ünïcode";
  t.kind = capture::Direction::kInbound;
  t.tenant = 3;
  t.first = StreamTime{kT0};
  t.last = StreamTime{kT0 + 86'400'000'000'000};
  t.sent = {1, 2, 3, {7, 1.5e19}};  // sampled: samples and variance round-trip bit-exact
  t.received = {4, 5, std::numeric_limits<std::uint64_t>::max()};
  t.flows = 70000;
  t.open_flows = 12;
  t.peak_parallel = 8;
  t.peak_rate_bps = 9.87654321e10;
  t.ended = true;
  analytics::Transfer b;
  ASSERT_TRUE(DecodeTransfer(EncodeTransfer(t), &b));
  EXPECT_EQ(b.id, t.id);
  EXPECT_EQ(b.version, t.version);
  EXPECT_EQ(b.inside, t.inside);
  EXPECT_EQ(b.external, t.external);
  EXPECT_EQ(b.external_name, t.external_name);
  EXPECT_EQ(b.kind, t.kind);
  EXPECT_EQ(b.tenant, t.tenant);
  EXPECT_EQ(b.first, t.first);
  EXPECT_EQ(b.last, t.last);
  EXPECT_EQ(b.sent, t.sent);
  EXPECT_EQ(b.received, t.received);
  EXPECT_EQ(b.flows, t.flows);
  EXPECT_EQ(b.open_flows, t.open_flows);
  EXPECT_EQ(b.peak_parallel, t.peak_parallel);
  EXPECT_EQ(b.peak_rate_bps, t.peak_rate_bps);  // bit-exact: stored as the IEEE bits
  EXPECT_EQ(b.ended, t.ended);
}

analytics::Alert FullAlert() {
  analytics::Alert a;
  a.id = 0x0123456789abcdefULL;
  a.version = 7;
  a.state = analytics::AlertState::kEnded;
  a.kind = analytics::AlertKind::kTrainAndReturn;
  a.severity = analytics::AlertSeverity::kCritical;
  a.first_seen = StreamTime{kT0 - 3'600'000'000'000};
  a.last_seen = StreamTime{kT0};
  a.inside = *Prefix::Parse("2001:db8:100::5");
  a.has_inside = true;
  a.external = *Prefix::Parse("203.0.113.0/24");
  a.external_name = "offshore-lab";
  a.direction = capture::Direction::kOutbound;
  a.bytes = 141'000'000'000;
  a.payload_bytes = 140'000'000'001;
  a.flows = 16;
  a.tenant = "research";
  a.model_match =
      analytics::ModelMatch{"Llama-3.1-70B", 70.6e9, "bf16/fp16", 141'107'000'000, -0.75};
  a.window_ns = 3'600'000'000'000;
  a.threshold_bytes = 1ULL << 30;
  a.projected = true;
  a.projected_crossing = StreamTime{kT0 + 99};
  a.rate_bps = 1.25e9;
  a.transfer_id = 42;
  a.linked_ids = {1, 0xffffffffffffffffULL, 3};
  a.sampling = {7750, 6.2e19};
  a.model_alternatives = {
      analytics::ModelMatch{"OPT-175B", 175e9, "fp32", 700'000'000'000, -0.8},
      analytics::ModelMatch{"BLOOM-176B", 176.247e9, "fp32", 704'988'000'000, -1.5}};
  return a;
}

TEST(Codec, AlertRoundTripsEveryField) {
  const analytics::Alert a = FullAlert();
  analytics::Alert b;
  ASSERT_TRUE(DecodeAlert(EncodeAlert(a), &b));
  EXPECT_EQ(b.id, a.id);
  EXPECT_EQ(b.version, a.version);
  EXPECT_EQ(b.state, a.state);
  EXPECT_EQ(b.kind, a.kind);
  EXPECT_EQ(b.severity, a.severity);
  EXPECT_EQ(b.first_seen, a.first_seen);
  EXPECT_EQ(b.last_seen, a.last_seen);
  EXPECT_EQ(b.inside, a.inside);
  EXPECT_EQ(b.has_inside, a.has_inside);
  EXPECT_EQ(b.external, a.external);
  EXPECT_EQ(b.external_name, a.external_name);
  EXPECT_EQ(b.direction, a.direction);
  EXPECT_EQ(b.bytes, a.bytes);
  EXPECT_EQ(b.payload_bytes, a.payload_bytes);
  EXPECT_EQ(b.flows, a.flows);
  EXPECT_EQ(b.tenant, a.tenant);
  EXPECT_EQ(b.model_match, a.model_match);
  EXPECT_EQ(b.window_ns, a.window_ns);
  EXPECT_EQ(b.threshold_bytes, a.threshold_bytes);
  EXPECT_EQ(b.projected, a.projected);
  EXPECT_EQ(b.projected_crossing, a.projected_crossing);
  EXPECT_EQ(b.rate_bps, a.rate_bps);
  EXPECT_EQ(b.transfer_id, a.transfer_id);
  EXPECT_EQ(b.linked_ids, a.linked_ids);
  EXPECT_EQ(b.sampling, a.sampling);
  EXPECT_EQ(b.model_alternatives, a.model_alternatives);
  // No model match, no inside (dataset_ingest): the optional stays empty.
  analytics::Alert c;
  c.kind = analytics::AlertKind::kDatasetIngest;
  ASSERT_TRUE(DecodeAlert(EncodeAlert(c), &b));
  EXPECT_FALSE(b.model_match.has_value());
  EXPECT_FALSE(b.has_inside);
  EXPECT_TRUE(b.linked_ids.empty());
  EXPECT_FALSE(b.sampling.sampled());
  EXPECT_TRUE(b.model_alternatives.empty());
}

// Values written by a build before value version 2 (no sampling error, no model alternatives)
// are read as exact counts; a sampling error that is not a variance is refused.
TEST(Codec, Version1ValuesStillDecode) {
  analytics::Alert a = FullAlert();
  a.sampling = {};
  a.model_alternatives.clear();
  std::string v = EncodeAlert(a);
  ASSERT_EQ(v.substr(v.size() - 2), std::string(2, '\0'));  // no samples, no alternatives
  v.resize(v.size() - 2);
  v[0] = 1;
  analytics::Alert b;
  b.sampling = {1, 1};  // overwritten
  ASSERT_TRUE(DecodeAlert(v, &b));
  EXPECT_EQ(EncodeAlert(b), EncodeAlert(a));
  analytics::Transfer t;
  t.id = 5;
  t.sent = {10, 20, 30};
  std::string tv = EncodeTransfer(t);
  ASSERT_EQ(tv.substr(tv.size() - 2), std::string(2, '\0'));
  tv.resize(tv.size() - 2);
  tv[0] = 1;
  analytics::Transfer tb;
  ASSERT_TRUE(DecodeTransfer(tv, &tb));
  EXPECT_EQ(tb.sent, t.sent);
  EXPECT_FALSE(tb.sent.sampling.sampled());
  // A v1 value with v2's trailing fields is trailing garbage.
  std::string longer = EncodeTransfer(t);
  longer[0] = 1;
  EXPECT_FALSE(DecodeTransfer(longer, &tb));
  // Negative and NaN variances.
  for (const double bad : {-1.0, std::numeric_limits<double>::quiet_NaN()}) {
    analytics::Transfer s = t;
    s.sent.sampling = {3, bad};
    EXPECT_FALSE(DecodeTransfer(EncodeTransfer(s), &tb)) << bad;
  }
}

// The daemon's saved state keeps the sampling error of open windows and tracked transfers.
TEST(SensorState, RoundTripsSamplingErrors) {
  SensorState st;
  analytics::OpenTransferState open;
  open.key_inside = *IpAddress::Parse("10.0.0.1");
  open.transfer.id = 9;
  open.transfer.sent = {1, 2, 3, {4, 5e10}};
  st.open_transfers.push_back(open);
  st.detector.started = true;
  st.detector.now_ns = kT0;
  analytics::TransferTrackState tr;
  tr.transfer_id = 9;
  tr.sent_sampling = {11, 1.25e21};
  tr.received_sampling = {2, 3.5};
  st.detector.transfers.push_back(tr);
  analytics::VolumeState v;
  v.key = "203.0.113.0/24|0";
  v.buckets.push_back({100, kT0, 1000, 900, {12, 4.5e22}});
  v.windows.resize(1);
  v.windows[0].alert = FullAlert();
  st.detector.ingest.push_back(v);
  const std::optional<SensorState> back = DecodeSensorState(EncodeSensorState(st));
  ASSERT_TRUE(back);
  ASSERT_EQ(back->open_transfers.size(), 1u);
  EXPECT_EQ(back->open_transfers[0].transfer.sent, open.transfer.sent);
  ASSERT_EQ(back->detector.transfers.size(), 1u);
  EXPECT_EQ(back->detector.transfers[0].sent_sampling, tr.sent_sampling);
  EXPECT_EQ(back->detector.transfers[0].received_sampling, tr.received_sampling);
  ASSERT_EQ(back->detector.ingest.size(), 1u);
  EXPECT_EQ(back->detector.ingest[0].buckets, v.buckets);
  EXPECT_EQ(back->detector.ingest[0].windows[0].alert.sampling, FullAlert().sampling);
}

TEST(Codec, RollupRoundTrips) {
  RollupCounters c{1, 2, 3, 4, 5, 6, std::numeric_limits<std::uint64_t>::max()};
  std::uint16_t tenant = 0;
  RollupCounters back;
  ASSERT_TRUE(DecodeRollup(EncodeRollup(9, c), &tenant, &back));
  EXPECT_EQ(tenant, 9);
  EXPECT_EQ(back, c);
  for (const char* text : {"10.1.2.0/24", "2001:db8::/48", "10.9.9.9/32", "::/0"}) {
    const Prefix p = *Prefix::Parse(text);
    RollupStep step;
    std::int64_t t = 0;
    RollupEntity e;
    Prefix q;
    ASSERT_TRUE(ParseRollupKey(RollupKey(RollupStep::kHour, -kT0, RollupEntity::kExternalGroup, p),
                               &step, &t, &e, &q));
    EXPECT_EQ(step, RollupStep::kHour);
    EXPECT_EQ(t, -kT0);
    EXPECT_EQ(e, RollupEntity::kExternalGroup);
    EXPECT_EQ(q, p) << text;
  }
}

// Every strict prefix of a value, a wrong version byte and trailing garbage are all refused:
// a decoder never reads past its input or accepts a half record.
TEST(Codec, DecodersRefuseDamagedValues) {
  const std::string flow = EncodeFlowUpdate(FullFlow());
  const std::string alert = EncodeAlert(FullAlert());
  const std::string transfer = EncodeTransfer(analytics::Transfer{});
  analytics::FlowUpdate u;
  analytics::Alert a;
  analytics::Transfer t;
  for (std::size_t n = 0; n < flow.size(); ++n)
    EXPECT_FALSE(DecodeFlowUpdate(flow.substr(0, n), &u)) << n;
  for (std::size_t n = 0; n < alert.size(); ++n)
    EXPECT_FALSE(DecodeAlert(alert.substr(0, n), &a)) << n;
  for (std::size_t n = 0; n < transfer.size(); ++n)
    EXPECT_FALSE(DecodeTransfer(transfer.substr(0, n), &t)) << n;
  EXPECT_FALSE(DecodeFlowUpdate(flow + "x", &u));
  EXPECT_FALSE(DecodeAlert(alert + "x", &a));
  std::string v2 = flow;
  v2[0] = static_cast<char>(kValueVersion + 1);
  EXPECT_FALSE(DecodeFlowUpdate(v2, &u));
  // An out-of-range enum (the alert's state byte follows two varints).
  analytics::Alert small;
  small.id = 1;
  small.version = 1;
  std::string bad = EncodeAlert(small);
  bad[3] = static_cast<char>(analytics::AlertState::kCount);
  EXPECT_FALSE(DecodeAlert(bad, &a));
}

// Random corruption of valid values: a decoder may accept or refuse, but never reads outside its
// input (the sanitizer builds check that), and what it accepts is a value it can store again.
TEST(Codec, DecodersSurviveRandomCorruption) {
  std::mt19937_64 rng(3);
  const std::string seeds[] = {EncodeFlowUpdate(FullFlow()), EncodeAlert(FullAlert()),
                               EncodeTransfer(analytics::Transfer{})};
  for (int iter = 0; iter < 30000; ++iter) {
    std::string v = seeds[iter % 3];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      v[rng() % v.size()] = static_cast<char>(rng());
    }
    if (rng() % 4 == 0) v.resize(rng() % (v.size() + 1));
    analytics::FlowUpdate u;
    analytics::Alert a;
    analytics::Transfer t;
    // Overlong varints decode, so the bytes may differ; what was decoded must encode to a value
    // that decodes to the same encoding again.
    if (DecodeFlowUpdate(v, &u)) {
      const std::string e = EncodeFlowUpdate(u);
      ASSERT_TRUE(DecodeFlowUpdate(e, &u));
      EXPECT_EQ(EncodeFlowUpdate(u), e);
    }
    if (DecodeAlert(v, &a)) {
      const std::string e = EncodeAlert(a);
      ASSERT_TRUE(DecodeAlert(e, &a));
      EXPECT_EQ(EncodeAlert(a), e);
    }
    if (DecodeTransfer(v, &t)) {
      const std::string e = EncodeTransfer(t);
      ASSERT_TRUE(DecodeTransfer(e, &t));
      EXPECT_EQ(EncodeTransfer(t), e);
    }
  }
}

TEST(Codec, TimeKeysSortLikeTheTimes) {
  std::mt19937_64 rng(7);
  std::vector<std::int64_t> times = {std::numeric_limits<std::int64_t>::min(), -1, 0, 1,
                                     std::numeric_limits<std::int64_t>::max()};
  for (int i = 0; i < 2000; ++i) times.push_back(static_cast<std::int64_t>(rng()));
  for (std::size_t i = 0; i + 1 < times.size(); ++i) {
    for (std::size_t j : {i + 1, times.size() - 1 - i}) {
      const std::int64_t x = times[i];
      const std::int64_t y = times[j];
      EXPECT_EQ(x < y, TimeKey(x) < TimeKey(y)) << x << " " << y;
      EXPECT_EQ(GetTime(TimeKey(x).data()), x);
    }
  }
}

TEST(Codec, RecordKeysOrderByTimeThenId) {
  // Sorted by (time, id, seq) as numbers must equal sorted as byte strings.
  std::mt19937_64 rng(11);
  struct K {
    std::int64_t t;
    std::uint64_t id;
    std::uint32_t v;
  };
  std::vector<K> ks;
  for (int i = 0; i < 500; ++i) {
    ks.push_back({static_cast<std::int64_t>(rng() % 5) - 2, rng() % 4 == 0 ? rng() : rng() % 3,
                  static_cast<std::uint32_t>(rng() % 300)});
  }
  auto numeric = ks;
  std::sort(numeric.begin(), numeric.end(), [](const K& a, const K& b) {
    return std::tie(a.t, a.id, a.v) < std::tie(b.t, b.id, b.v);
  });
  auto by_bytes = ks;
  std::sort(by_bytes.begin(), by_bytes.end(), [](const K& a, const K& b) {
    return AlertKey(a.t, a.id, a.v) < AlertKey(b.t, b.id, b.v);
  });
  for (std::size_t i = 0; i < ks.size(); ++i) {
    EXPECT_EQ(AlertKey(numeric[i].t, numeric[i].id, numeric[i].v),
              AlertKey(by_bytes[i].t, by_bytes[i].id, by_bytes[i].v));
    EXPECT_EQ(FlowKey(numeric[i].t, numeric[i].id, numeric[i].v) <
                  FlowKey(by_bytes[(i + 1) % ks.size()].t, by_bytes[(i + 1) % ks.size()].id,
                          by_bytes[(i + 1) % ks.size()].v),
              std::tie(numeric[i].t, numeric[i].id, numeric[i].v) <
                  std::tie(by_bytes[(i + 1) % ks.size()].t, by_bytes[(i + 1) % ks.size()].id,
                           by_bytes[(i + 1) % ks.size()].v));
  }
  EXPECT_EQ(FlowKey(1, 2, 3).size(), kFlowKeySize);
  EXPECT_EQ(TransferKey(1, 2).size(), kTransferKeySize);
  EXPECT_EQ(AlertKey(1, 2, 3).size(), kAlertKeySize);
  EXPECT_LT(TransferKey(-1, ~0ULL), TransferKey(0, 0));
}

}  // namespace
}  // namespace weighbridge::store::internal
