#include "weighbridge/analytics/detectors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include "weighbridge/analytics/transfer.h"

namespace weighbridge::analytics {
namespace {

using capture::Direction;

constexpr std::int64_t kSec = kNanosPerSecond;
constexpr std::int64_t kMin = 60 * kSec;
constexpr std::int64_t kHour = 60 * kMin;
constexpr std::int64_t kDay = 24 * kHour;
constexpr std::int64_t kT0 = 1'800'000'000LL * kSec;  // a whole minute, so buckets align
constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;
constexpr std::uint64_t kTB = 1'000'000'000'000ULL;
constexpr std::uint64_t kPB = 1000 * kTB;

class Collect : public AlertSink {
 public:
  void OnAlert(const Alert& a) override { all.push_back(a); }
  std::vector<Alert> OfKind(AlertKind k) const {
    std::vector<Alert> out;
    for (const Alert& a : all) {
      if (a.kind == k) out.push_back(a);
    }
    return out;
  }
  // The latest version of each alert id of this kind, in order of first appearance.
  std::vector<Alert> Latest(AlertKind k) const {
    std::vector<Alert> out;
    for (const Alert& a : all) {
      if (a.kind != k) continue;
      auto it = std::find_if(out.begin(), out.end(), [&](const Alert& x) { return x.id == a.id; });
      if (it == out.end()) {
        out.push_back(a);
      } else {
        *it = a;
      }
    }
    return out;
  }
  std::vector<Alert> all;
};

Prefix P(const char* text) {
  return *Prefix::Parse(text);
}

// A transfer as the sessionizer reports it: cumulative counters. L3 bytes are payload plus 5%
// (headers), an arbitrary but checkable figure.
Transfer Xfer(std::uint64_t id, const char* inside, const char* external, Direction kind,
              std::int64_t first, std::int64_t last, std::uint64_t sent_payload,
              std::uint64_t received_payload, bool ended, std::uint16_t tenant = 0,
              std::uint32_t flows = 1) {
  Transfer t;
  t.id = id;
  t.version = 1;
  t.inside = *IpAddress::Parse(inside);
  t.external = P(external);
  t.kind = kind;
  t.tenant = tenant;
  t.first = StreamTime{first};
  t.last = StreamTime{last};
  t.sent =
      DirectionCounters{sent_payload / 1000 + 1, sent_payload + sent_payload / 20, sent_payload};
  t.received = DirectionCounters{received_payload / 1000 + 1,
                                 received_payload + received_payload / 20, received_payload};
  t.flows = flows;
  t.ended = ended;
  return t;
}

ModelCatalog TestCatalog() {
  ModelCatalogSpec s;
  s.dtypes = {{"fp32", 32, 0}, {"bf16/fp16", 16, 0}, {"fp8/int8", 8, 0}, {"gguf-q4_k_m", 4.85, 0}};
  s.models = {{"Qwen2.5-7B", 7.61e9, false, "", {}},
              {"Llama-3.1-8B", 8.03e9, false, "", {}},
              {"Llama-3.1-70B", 70.6e9, false, "", {}},
              {"DeepSeek-V3/R1", 685e9, true, "", {}}};
  auto c = ModelCatalog::Build(s);
  EXPECT_TRUE(c.ok());
  return std::move(c).value();
}

// Thresholds small enough to reach in a test; windows as in the defaults.
DetectOptions SmallOptions() {
  DetectOptions o;
  o.ingest.windows = {{1 * kHour, 10 * kTB}};
  o.staging.storage = {P("10.20.0.0/24")};
  o.staging.threshold_bytes = 10 * kTB;
  o.tenant_names = {"research", "prod"};
  o.ingest.projection_min_fraction = 0;  // projections off, except where a test turns them on
  return o;
}

// ---- weight_transfer -----------------------------------------------------------------------

// Eight parallel streams to one /24, each 2.0075 GB, through the real sessionizer: one
// transfer of 16.06 GB = 8.03e9 params x 2 bytes (Llama-3.1-8B in bf16).
TEST(WeightTransfer, EightStreamsAreOneAlertMatchingLlama8BBf16) {
  const ModelCatalog catalog = TestCatalog();
  Collect sink;
  DetectorEngine engine(SmallOptions(), &catalog, &sink);
  Sessionizer sessionizer(SessionizerOptions{}, &engine);
  std::vector<FlowUpdate> updates;
  const std::uint64_t part = 2'007'500'000ULL;
  for (int i = 0; i < 8; ++i) {
    for (int half = 0; half < 2; ++half) {
      FlowUpdate u;
      u.key = FlowKey{*IpAddress::Parse("10.1.2.3"),
                      IpAddress::V4(0xcb007100u + 10u + static_cast<std::uint32_t>(i)),
                      static_cast<std::uint16_t>(40000 + i),
                      443,
                      0,
                      6};
      u.flow_id = 100 + static_cast<std::uint64_t>(i);
      u.first = StreamTime{kT0 + i * kSec};
      u.last = StreamTime{kT0 + (half == 0 ? 60 : 120) * kSec + i * kSec};
      u.a_to_b = DirectionCounters{part / 2 / 1448, part / 2 + 52 * (part / 2 / 1448), part / 2};
      u.b_to_a = DirectionCounters{100, 5200, 0};
      u.direction = Direction::kOutbound;
      u.reason = half == 0 ? FlowEndReason::kActive : FlowEndReason::kClosed;
      u.first_update = half == 0;
      u.at = StreamTime{u.last.ns + (half == 0 ? 0 : 5 * kSec)};
      updates.push_back(u);
    }
  }
  std::sort(updates.begin(), updates.end(),
            [](const FlowUpdate& x, const FlowUpdate& y) { return x.at < y.at; });
  for (const FlowUpdate& u : updates) sessionizer.OnFlowUpdate(u);
  const std::vector<Alert> before_end = sink.OfKind(AlertKind::kWeightTransfer);
  sessionizer.FlushAll();
  engine.Finish();

  const std::vector<Alert> all = sink.OfKind(AlertKind::kWeightTransfer);
  ASSERT_FALSE(before_end.empty()) << "the alert must come while the transfer runs";
  EXPECT_EQ(before_end.front().state, AlertState::kActive);
  EXPECT_EQ(before_end.front().version, 1u);
  EXPECT_GE(before_end.front().payload_bytes, kGiB);
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].id, all.front().id);
    EXPECT_EQ(all[i].version, i + 1);
  }
  const Alert& last = all.back();
  EXPECT_EQ(last.state, AlertState::kEnded);
  EXPECT_EQ(last.payload_bytes, 8 * part);
  EXPECT_EQ(last.payload_bytes, 16'060'000'000ULL);
  EXPECT_EQ(last.flows, 8u);
  EXPECT_EQ(last.inside, P("10.1.2.3/32"));
  EXPECT_EQ(last.external, P("203.0.113.0/24"));
  EXPECT_EQ(last.direction, Direction::kOutbound);
  EXPECT_EQ(last.severity, AlertSeverity::kWarning);
  ASSERT_TRUE(last.model_match);
  EXPECT_EQ(last.model_match->name, "Llama-3.1-8B");
  EXPECT_EQ(last.model_match->dtype, "bf16/fp16");
  EXPECT_LT(std::abs(last.model_match->error_pct), 1.0);
  EXPECT_EQ(sink.Latest(AlertKind::kWeightTransfer).size(), 1u);
  EXPECT_EQ(engine.counters().alerts, 1u);
}

TEST(WeightTransfer, LargeInboundDownloadIsSilent) {
  const ModelCatalog catalog = TestCatalog();
  Collect sink;
  DetectorEngine engine(SmallOptions(), &catalog, &sink);
  engine.OnTransfer(Xfer(1, "10.1.2.3", "203.0.113.0/24", Direction::kInbound, kT0, kT0 + kMin,
                         10'000'000, 141'200'000'000ULL, false));
  engine.OnTransfer(Xfer(1, "10.1.2.3", "203.0.113.0/24", Direction::kInbound, kT0, kT0 + 2 * kMin,
                         20'000'000, 141'200'000'000ULL, true));
  engine.Finish();
  EXPECT_TRUE(sink.all.empty());
}

TEST(WeightTransfer, AllowListedPartnerIsSilentOnlyInItsDirections) {
  const ModelCatalog catalog = TestCatalog();
  DetectOptions o = SmallOptions();
  o.allow = {{"backup-partner", {P("198.51.100.0/24")}, {Direction::kOutbound}}};
  Collect sink;
  DetectorEngine engine(o, &catalog, &sink);
  engine.OnTransfer(Xfer(1, "10.1.2.3", "198.51.100.0/24", Direction::kOutbound, kT0, kT0 + kMin,
                         500 * kGiB, 0, true));
  EXPECT_TRUE(sink.all.empty());
  EXPECT_EQ(engine.counters().allowed, 1u);

  // The same partner allowed only inbound: an upload to it still alerts.
  o.allow = {{"backup-partner", {P("198.51.100.0/24")}, {Direction::kInbound}}};
  Collect sink2;
  DetectorEngine engine2(o, &catalog, &sink2);
  engine2.OnTransfer(Xfer(1, "10.1.2.3", "198.51.100.0/24", Direction::kOutbound, kT0, kT0 + kMin,
                          500 * kGiB, 0, true));
  EXPECT_EQ(sink2.all.size(), 1u);

  // An allow rule narrower than the peer group does not cover the whole group: it alerts.
  o.allow = {{"one-host", {P("198.51.100.7/32")}, {Direction::kOutbound}}};
  Collect sink3;
  DetectorEngine engine3(o, &catalog, &sink3);
  engine3.OnTransfer(Xfer(1, "10.1.2.3", "198.51.100.0/24", Direction::kOutbound, kT0, kT0 + kMin,
                          500 * kGiB, 0, true));
  EXPECT_EQ(sink3.all.size(), 1u);

  // A named group with the rule's name is allowed whatever its prefix.
  o.allow = {{"partner-org", {}, {Direction::kOutbound}}};
  Collect sink4;
  DetectorEngine engine4(o, &catalog, &sink4);
  Transfer t = Xfer(1, "10.1.2.3", "192.0.2.0/24", Direction::kOutbound, kT0, kT0 + kMin,
                    500 * kGiB, 0, true);
  t.external_name = "partner-org";
  engine4.OnTransfer(t);
  EXPECT_TRUE(sink4.all.empty());
}

TEST(WeightTransfer, MinSizeBoundaryIsInclusive) {
  const ModelCatalog catalog = TestCatalog();
  Collect sink;
  DetectorEngine engine(SmallOptions(), &catalog, &sink);
  engine.OnTransfer(Xfer(1, "10.1.2.3", "203.0.113.0/24", Direction::kOutbound, kT0, kT0 + kMin,
                         kGiB - 1, 0, true));
  EXPECT_TRUE(sink.all.empty());
  engine.OnTransfer(
      Xfer(2, "10.1.2.4", "203.0.113.0/24", Direction::kOutbound, kT0, kT0 + kMin, kGiB, 0, true));
  ASSERT_EQ(sink.all.size(), 1u);
  // Reached its size only in its final report: one alert, already ended, version 1.
  EXPECT_EQ(sink.all[0].state, AlertState::kEnded);
  EXPECT_EQ(sink.all[0].version, 1u);
  EXPECT_EQ(sink.all[0].payload_bytes, kGiB);
  EXPECT_EQ(sink.all[0].bytes, kGiB + kGiB / 20);
  EXPECT_EQ(sink.all[0].threshold_bytes, kGiB);
}

// A slow upload that pauses for longer than the gap is two transfers; each is judged alone, so
// two halves of 0.6 GiB never alert even though 1.2 GiB left in all.
TEST(WeightTransfer, PausesLongerThanTheGapSplitTheUploadAndNeitherHalfAlerts) {
  const ModelCatalog catalog = TestCatalog();
  Collect sink;
  DetectorEngine engine(SmallOptions(), &catalog, &sink);
  SessionizerOptions so;
  so.gap_ns = 10 * kMin;
  Sessionizer sessionizer(so, &engine);
  const std::uint64_t half = kGiB * 6 / 10;
  for (int i = 0; i < 2; ++i) {
    FlowUpdate u;
    u.key = FlowKey{*IpAddress::Parse("10.1.2.3"),
                    *IpAddress::Parse("203.0.113.9"),
                    static_cast<std::uint16_t>(50000 + i),
                    22,
                    0,
                    6};
    u.flow_id = 7 + static_cast<std::uint64_t>(i);
    const std::int64_t start = kT0 + i * (11 * kMin + kMin);  // 11 min silence between them
    u.first = StreamTime{start};
    u.last = StreamTime{start + kMin};
    u.a_to_b = DirectionCounters{half / 1448, half + 52 * (half / 1448), half};
    u.direction = Direction::kOutbound;
    u.reason = FlowEndReason::kClosed;
    u.at = StreamTime{start + kMin + 5 * kSec};
    sessionizer.OnFlowUpdate(u);
  }
  sessionizer.FlushAll();
  engine.Finish();
  EXPECT_EQ(sessionizer.transfers_started(), 2u);
  EXPECT_TRUE(sink.all.empty());
}

// A flood of small flows to many groups with one upload hidden among them: exactly one alert,
// for the upload's group.
TEST(WeightTransfer, UploadHiddenInAFloodOfTinyFlowsStillFires) {
  const ModelCatalog catalog = TestCatalog();
  Collect sink;
  DetectorEngine engine(SmallOptions(), &catalog, &sink);
  std::uint64_t id = 1000;
  for (int i = 0; i < 2000; ++i) {
    const std::int64_t t = kT0 + i * 10 * kNanosPerMicro * 1000;
    engine.OnTransfer(Xfer(id++, "10.1.2.3",
                           (std::string("100.64.") + std::to_string(i % 200) + ".0/24").c_str(),
                           Direction::kOutbound, t, t, 4000, 1000, true));
    if (i % 100 == 0) {
      const std::uint64_t sent = static_cast<std::uint64_t>(i / 100 + 1) * 7'061'000'000ULL;
      engine.OnTransfer(Xfer(1, "10.1.2.3", "203.0.113.0/24", Direction::kOutbound, kT0, t, sent,
                             1'000'000, false, 0, 4));
    }
  }
  engine.OnTransfer(Xfer(1, "10.1.2.3", "203.0.113.0/24", Direction::kOutbound, kT0,
                         kT0 + 30 * kSec, 141'220'000'000ULL, 1'000'000, true, 0, 4));
  engine.Finish();
  const std::vector<Alert> latest = sink.Latest(AlertKind::kWeightTransfer);
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0].external, P("203.0.113.0/24"));
  EXPECT_EQ(latest[0].state, AlertState::kEnded);
  ASSERT_TRUE(latest[0].model_match);
  EXPECT_EQ(latest[0].model_match->name, "Llama-3.1-70B");
  EXPECT_EQ(sink.all.size(), sink.OfKind(AlertKind::kWeightTransfer).size());
}

TEST(WeightTransfer, UpdatesAreRateLimitedAndKeepTheId) {
  const ModelCatalog catalog = TestCatalog();
  Collect sink;
  DetectorEngine engine(SmallOptions(), &catalog, &sink);
  // Grows from 1 GiB to 2 GiB in 1% steps: 70 reports of the transfer.
  std::uint64_t sent = kGiB;
  int steps = 0;
  while (sent < 2 * kGiB) {
    engine.OnTransfer(Xfer(9, "10.1.2.3", "203.0.113.0/24", Direction::kOutbound, kT0,
                           kT0 + steps * kSec, sent, 0, false));
    sent += kGiB / 100;
    ++steps;
  }
  engine.OnTransfer(Xfer(9, "10.1.2.3", "203.0.113.0/24", Direction::kOutbound, kT0,
                         kT0 + steps * kSec, sent, 0, true));
  ASSERT_GT(steps, 90);
  const auto& all = sink.all;
  // log(2) / log(1.1) = 7.3 growth reports, plus the first and the end.
  EXPECT_GE(all.size(), 8u);
  EXPECT_LE(all.size(), 10u);
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].id, all[0].id);
    EXPECT_EQ(all[i].version, i + 1);
    EXPECT_EQ(all[i].state, i + 1 == all.size() ? AlertState::kEnded : AlertState::kActive);
    if (i > 0 && i + 1 < all.size()) {
      EXPECT_GE(static_cast<double>(all[i].payload_bytes),
                static_cast<double>(all[i - 1].payload_bytes) * 1.1);
    }
  }
  EXPECT_EQ(all.back().payload_bytes, sent);
}

TEST(WeightTransfer, SensitiveTenantsAndDestinationsAreCritical) {
  const ModelCatalog catalog = TestCatalog();
  DetectOptions o = SmallOptions();
  o.sensitive_tenants = {"research"};
  o.sensitive_prefixes = {P("192.0.2.0/24")};
  Collect sink;
  DetectorEngine engine(o, &catalog, &sink);
  engine.OnTransfer(Xfer(1, "10.30.0.1", "203.0.113.0/24", Direction::kOutbound, kT0, kT0 + kMin,
                         2 * kGiB, 0, true, /*tenant=*/1));
  engine.OnTransfer(Xfer(2, "10.1.0.1", "192.0.2.0/24", Direction::kOutbound, kT0, kT0 + kMin,
                         2 * kGiB, 0, true, /*tenant=*/2));
  engine.OnTransfer(Xfer(3, "10.1.0.2", "203.0.113.0/24", Direction::kOutbound, kT0, kT0 + kMin,
                         2 * kGiB, 0, true, /*tenant=*/2));
  ASSERT_EQ(sink.all.size(), 3u);
  EXPECT_EQ(sink.all[0].severity, AlertSeverity::kCritical);
  EXPECT_EQ(sink.all[0].tenant, "research");
  EXPECT_EQ(sink.all[1].severity, AlertSeverity::kCritical);
  EXPECT_EQ(sink.all[1].tenant, "prod");
  EXPECT_EQ(sink.all[2].severity, AlertSeverity::kWarning);
}

TEST(WeightTransfer, Ipv6) {
  const ModelCatalog catalog = TestCatalog();
  Collect sink;
  DetectorEngine engine(SmallOptions(), &catalog, &sink);
  // 685 GB: DeepSeek-V3/R1 in fp8.
  engine.OnTransfer(Xfer(1, "2001:db8:100::5", "2001:db8:beef::/48", Direction::kOutbound, kT0,
                         kT0 + kHour, 685'500'000'000ULL, 0, true, 0, 16));
  ASSERT_EQ(sink.all.size(), 1u);
  EXPECT_EQ(sink.all[0].inside, P("2001:db8:100::5/128"));
  EXPECT_EQ(sink.all[0].external, P("2001:db8:beef::/48"));
  ASSERT_TRUE(sink.all[0].model_match);
  EXPECT_EQ(sink.all[0].model_match->name, "DeepSeek-V3/R1");
  EXPECT_EQ(sink.all[0].model_match->dtype, "fp8/int8");
  EXPECT_NEAR(sink.all[0].model_match->error_pct, 0.5 / 685 * 100, 1e-9);
}

TEST(WeightTransfer, NoModelMatchOutsideTolerance) {
  const ModelCatalog catalog = TestCatalog();
  Collect sink;
  DetectorEngine engine(SmallOptions(), &catalog, &sink);
  // 25 GB: 9% from Qwen2.5-7B fp8 x ... nothing in the test catalog within 2%.
  engine.OnTransfer(Xfer(1, "10.1.2.3", "203.0.113.0/24", Direction::kOutbound, kT0, kT0 + kMin,
                         25'000'000'000ULL, 0, true));
  ASSERT_EQ(sink.all.size(), 1u);
  EXPECT_FALSE(sink.all[0].model_match);
}

// A sampled estimate carries its error into the alert; the model match widens to two standard
// errors when that is more than the tolerance, and names the other sizes within it.
TEST(WeightTransfer, SampledEstimateStatesItsErrorAndMatchesWithinIt) {
  const ModelCatalog catalog = TestCatalog();
  Collect sink;
  DetectorEngine engine(SmallOptions(), &catalog, &sink);
  // 16.06 GB is Llama-3.1-8B bf16; 4% more is outside the 2% tolerance...
  const std::uint64_t payload = 16'702'400'000ULL;
  Transfer exact = Xfer(1, "10.1.2.3", "203.0.113.0/24", Direction::kOutbound, kT0, kT0 + kMin,
                        payload, 0, true);
  engine.OnTransfer(exact);
  ASSERT_EQ(sink.all.size(), 1u);
  EXPECT_FALSE(sink.all[0].model_match);
  EXPECT_FALSE(sink.all[0].sampling.sampled());
  // ...but from 2 000 samples at 1 in 1 000 000 (3% at one standard error) it is within two.
  Transfer sampled = Xfer(2, "10.1.2.4", "203.0.113.0/24", Direction::kOutbound, kT0, kT0 + kMin,
                          payload, 0, true);
  const double sd = 0.03 * static_cast<double>(payload);
  sampled.sent.sampling = {2000, sd * sd};
  engine.OnTransfer(sampled);
  ASSERT_EQ(sink.all.size(), 2u);
  const Alert& a = sink.all[1];
  EXPECT_EQ(a.sampling.samples, 2000u);
  EXPECT_DOUBLE_EQ(a.sampling.PayloadStddev(), sd);
  ASSERT_TRUE(a.model_match);
  EXPECT_EQ(a.model_match->name, "Llama-3.1-8B");
  EXPECT_EQ(a.model_match->dtype, "bf16/fp16");
  // Qwen2.5-7B bf16 (15.22 GB) is 9.7% away: outside even the widened 6%.
  for (const ModelMatch& m : a.model_alternatives) EXPECT_NE(m.name, "Qwen2.5-7B");
  // At 1 in 1 000 with 20% error everything from 10 to 23 GB is possible: the nearest first,
  // the rest named as alternatives, each within 40%.
  Transfer rough = Xfer(3, "10.1.2.5", "203.0.113.0/24", Direction::kOutbound, kT0, kT0 + kMin,
                        payload, 0, true);
  const double rough_sd = 0.2 * static_cast<double>(payload);
  rough.sent.sampling = {25, rough_sd * rough_sd};
  engine.OnTransfer(rough);
  ASSERT_EQ(sink.all.size(), 3u);
  const Alert& r = sink.all[2];
  ASSERT_TRUE(r.model_match);
  EXPECT_EQ(r.model_match->name, "Llama-3.1-8B");
  ASSERT_FALSE(r.model_alternatives.empty());
  double last = std::abs(r.model_match->error_pct);
  for (const ModelMatch& m : r.model_alternatives) {
    EXPECT_LE(std::abs(m.error_pct), 100.0 * 0.4 / (1 - 0.4));
    EXPECT_GE(std::abs(m.error_pct) + 1e-9, last) << m.name;  // nearest first
    last = std::abs(m.error_pct);
  }
}

// ---- dataset_ingest ------------------------------------------------------------------------

TEST(DatasetIngest, ThresholdIsExclusiveAndTheAlertEndsWhenTheWindowSlidesPast) {
  Collect sink;
  DetectorEngine engine(SmallOptions(), nullptr, &sink);
  // Exactly 10 TB within the hour: not more than the threshold, no alert.
  engine.OnTransfer(Xfer(1, "10.1.2.3", "203.0.113.0/24", Direction::kInbound, kT0, kT0 + 10 * kSec,
                         0, 10 * kTB, false));
  EXPECT_TRUE(sink.all.empty());
  // One byte more: an alert.
  engine.OnTransfer(Xfer(1, "10.1.2.3", "203.0.113.0/24", Direction::kInbound, kT0, kT0 + 20 * kSec,
                         0, 10 * kTB + 1, false));
  ASSERT_EQ(sink.all.size(), 1u);
  const Alert a = sink.all[0];
  EXPECT_EQ(a.kind, AlertKind::kDatasetIngest);
  EXPECT_EQ(a.state, AlertState::kActive);
  EXPECT_FALSE(a.projected);
  EXPECT_EQ(a.payload_bytes, 10 * kTB + 1);
  EXPECT_EQ(a.external, P("203.0.113.0/24"));
  EXPECT_FALSE(a.has_inside);
  EXPECT_EQ(a.direction, Direction::kInbound);
  EXPECT_EQ(a.window_ns, kHour);
  EXPECT_EQ(a.threshold_bytes, 10 * kTB);
  EXPECT_EQ(a.first_seen, StreamTime{kT0 + 10 * kSec});
  EXPECT_EQ(a.severity, AlertSeverity::kWarning);
  // The bytes sit in the bucket [kT0, kT0 + 1 min); the 1 h window still holds it until the
  // bucket starting at kT0 + 60 min begins.
  engine.AdvanceTo(StreamTime{kT0 + 60 * kMin - 1});
  EXPECT_EQ(sink.all.size(), 1u);
  engine.AdvanceTo(StreamTime{kT0 + 60 * kMin});
  ASSERT_EQ(sink.all.size(), 2u);
  EXPECT_EQ(sink.all[1].id, a.id);
  EXPECT_EQ(sink.all[1].version, 2u);
  EXPECT_EQ(sink.all[1].state, AlertState::kEnded);
  EXPECT_EQ(sink.all[1].payload_bytes, 10 * kTB + 1);  // the peak, not the emptied window
  // More bytes later: a new crossing, a new id.
  engine.OnTransfer(Xfer(2, "10.1.2.3", "203.0.113.0/24", Direction::kInbound, kT0 + 2 * kHour,
                         kT0 + 2 * kHour, 0, 11 * kTB, false));
  ASSERT_EQ(sink.all.size(), 3u);
  EXPECT_NE(sink.all[2].id, a.id);
  EXPECT_EQ(sink.all[2].version, 1u);
}

// A window of sampled transfers states the error of its sum: variances of independent samples
// add, over the transfers and over each transfer's growth.
TEST(DatasetIngest, SampledWindowStatesTheErrorOfItsSum) {
  Collect sink;
  DetectorEngine engine(SmallOptions(), nullptr, &sink);
  Transfer a = Xfer(1, "10.30.0.1", "203.0.113.0/24", Direction::kInbound, kT0, kT0 + kMin, 0,
                    4 * kTB, false);
  a.received.sampling = {400, 1e20};
  engine.OnTransfer(a);
  a.last = StreamTime{kT0 + 2 * kMin};
  a.received = DirectionCounters{1, 6 * kTB, 6 * kTB, {600, 1.5e20}};  // grew by 2 TB
  engine.OnTransfer(a);
  Transfer b = Xfer(2, "10.30.0.2", "203.0.113.0/24", Direction::kInbound, kT0, kT0 + 3 * kMin, 0,
                    5 * kTB, false);
  b.received.sampling = {500, 2e20};
  engine.OnTransfer(b);
  const std::vector<Alert> latest = sink.Latest(AlertKind::kDatasetIngest);
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0].payload_bytes, 11 * kTB);
  EXPECT_EQ(latest[0].sampling.samples, 1100u);
  EXPECT_DOUBLE_EQ(latest[0].sampling.payload_variance, 3.5e20);
  // After a save and restore the windows still know their error.
  const DetectorState st = engine.ExportState();
  Collect sink2;
  DetectorEngine restored(SmallOptions(), nullptr, &sink2);
  restored.ImportState(st);
  Transfer c = Xfer(3, "10.30.0.3", "203.0.113.0/24", Direction::kInbound, kT0, kT0 + 4 * kMin, 0,
                    3 * kTB, false);
  c.received.sampling = {300, 0.5e20};
  restored.OnTransfer(c);
  const std::vector<Alert> after = sink2.Latest(AlertKind::kDatasetIngest);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].payload_bytes, 14 * kTB);
  EXPECT_EQ(after[0].sampling.samples, 1400u);
  EXPECT_DOUBLE_EQ(after[0].sampling.payload_variance, 4e20);
}

TEST(DatasetIngest, SumsAllTransfersOfAGroupPerTenant) {
  Collect sink;
  DetectorEngine engine(SmallOptions(), nullptr, &sink);
  // Four hosts of tenant 1 each take 3 TB from two addresses' worth of one /24 (the sessionizer
  // keys by host, so these are four transfers): 12 TB > 10 TB.
  for (std::uint64_t i = 0; i < 4; ++i) {
    const std::string host = "10.30.0." + std::to_string(i + 1);
    engine.OnTransfer(Xfer(10 + i, host.c_str(), "203.0.113.0/24", Direction::kInbound, kT0,
                           kT0 + static_cast<std::int64_t>(i) * kMin, 0, 3 * kTB, false, 1));
  }
  // A host of tenant 2 from the same group: its own key, under the threshold.
  engine.OnTransfer(Xfer(20, "10.40.0.1", "203.0.113.0/24", Direction::kInbound, kT0,
                         kT0 + 5 * kMin, 0, 3 * kTB, false, 2));
  const std::vector<Alert> latest = sink.Latest(AlertKind::kDatasetIngest);
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0].tenant, "research");
  EXPECT_EQ(latest[0].payload_bytes, 12 * kTB);
  EXPECT_EQ(latest[0].bytes, 12 * kTB + 12 * kTB / 20);
}

TEST(DatasetIngest, CoarserIngestGroupsMergeSessionizerGroups) {
  DetectOptions o = SmallOptions();
  o.ingest.ipv4_group_len = 16;
  Collect sink;
  DetectorEngine engine(o, nullptr, &sink);
  engine.OnTransfer(
      Xfer(1, "10.1.2.3", "203.0.113.0/24", Direction::kInbound, kT0, kT0, 0, 6 * kTB, false));
  engine.OnTransfer(
      Xfer(2, "10.1.2.3", "203.0.114.0/24", Direction::kInbound, kT0, kT0, 0, 6 * kTB, false));
  const std::vector<Alert> latest = sink.Latest(AlertKind::kDatasetIngest);
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0].external, P("203.0.0.0/16"));
}

TEST(DatasetIngest, ProjectedCrossingWarnsThenBecomesTheCrossing) {
  DetectOptions o = SmallOptions();
  o.ingest.projection_min_fraction = 0.10;
  o.ingest.rate_span_ns = 10 * kMin;
  Collect sink;
  DetectorEngine engine(o, nullptr, &sink);
  // 0.5 TB a minute, reported each minute at second 59. The rate is what the last 10 one-minute
  // buckets hold over the time since the first of them began: 599 s while the transfer is
  // younger than 10 minutes. At total T the rest (10 TB - T + 1) arrives in (10 TB - T) * 599 / T
  // seconds, within the hour once T >= 10 TB * 599 / 4199 = 1.43 TB: the third report, 1.5 TB.
  std::uint64_t total = 0;
  int minute = 0;
  while (sink.all.empty() && minute < 60) {
    total += kTB / 2;
    ++minute;
    engine.OnTransfer(Xfer(1, "10.1.2.3", "203.0.113.0/24", Direction::kInbound, kT0,
                           kT0 + minute * kMin - kSec, 0, total, false));
  }
  ASSERT_EQ(sink.all.size(), 1u);
  const Alert p = sink.all[0];
  EXPECT_TRUE(p.projected);
  EXPECT_EQ(p.severity, AlertSeverity::kInfo);
  EXPECT_EQ(p.state, AlertState::kActive);
  EXPECT_EQ(total, 3 * kTB / 2);
  EXPECT_EQ(p.payload_bytes, 3 * kTB / 2);
  EXPECT_GT(p.projected_crossing, StreamTime{kT0 + 2 * kMin});
  EXPECT_LT(p.projected_crossing, StreamTime{kT0 + 60 * kMin});
  while (minute < 25) {
    total += kTB / 2;
    ++minute;
    engine.OnTransfer(Xfer(1, "10.1.2.3", "203.0.113.0/24", Direction::kInbound, kT0,
                           kT0 + minute * kMin - kSec, 0, total, false));
  }
  const std::vector<Alert> versions = sink.OfKind(AlertKind::kDatasetIngest);
  auto crossed =
      std::find_if(versions.begin(), versions.end(), [](const Alert& a) { return !a.projected; });
  ASSERT_NE(crossed, versions.end());
  EXPECT_EQ(crossed->id, p.id) << "a projection that comes true is the same alert";
  EXPECT_EQ(crossed->severity, AlertSeverity::kWarning);
  EXPECT_GT(crossed->payload_bytes, 10 * kTB);
  EXPECT_EQ(crossed->payload_bytes, 10 * kTB + kTB / 2);  // the first report above: 21 minutes
  EXPECT_EQ(sink.Latest(AlertKind::kDatasetIngest).size(), 1u);
}

TEST(DatasetIngest, SlowRateIsNotProjected) {
  DetectOptions o = SmallOptions();
  o.ingest.projection_min_fraction = 0.10;
  Collect sink;
  DetectorEngine engine(o, nullptr, &sink);
  // 0.05 TB a minute for 50 minutes: 2.5 TB, and 7.5 TB more would take 150 minutes.
  for (int minute = 1; minute <= 50; ++minute) {
    engine.OnTransfer(Xfer(1, "10.1.2.3", "203.0.113.0/24", Direction::kInbound, kT0,
                           kT0 + minute * kMin - kSec, 0,
                           static_cast<std::uint64_t>(minute) * kTB / 20, false));
  }
  EXPECT_TRUE(sink.all.empty());
}

TEST(DatasetIngest, ProjectionLapsesWhenTheTrafficStops) {
  DetectOptions o = SmallOptions();
  o.ingest.projection_min_fraction = 0.10;
  Collect sink;
  DetectorEngine engine(o, nullptr, &sink);
  engine.OnTransfer(Xfer(1, "10.1.2.3", "203.0.113.0/24", Direction::kInbound, kT0,
                         kT0 + 5 * kMin - kSec, 0, 3 * kTB, false));
  ASSERT_EQ(sink.all.size(), 1u);
  EXPECT_TRUE(sink.all[0].projected);
  engine.AdvanceTo(StreamTime{kT0 + 30 * kMin});  // no bytes in the last 10 minutes: rate 0
  ASSERT_EQ(sink.all.size(), 2u);
  EXPECT_EQ(sink.all[1].state, AlertState::kEnded);
  EXPECT_TRUE(sink.all[1].projected);
  // A projection that never came true leaves nothing for train_and_return.
  EXPECT_TRUE(engine.ExportMemory().empty());
}

TEST(DatasetIngest, PetabyteWindowsDoNotOverflow) {
  DetectOptions o = SmallOptions();
  o.ingest.windows = {{7 * kDay, 1 * kPB}};
  o.ingest.projection_min_fraction = 0;
  Collect sink;
  DetectorEngine engine(o, nullptr, &sink);
  // 150 TB a day for 7 days, as one long transfer reported hourly: 1.05 PB in the window.
  for (int h = 1; h <= 7 * 24; ++h) {
    engine.OnTransfer(Xfer(1, "10.1.2.3", "2001:db8:beef::/48", Direction::kInbound, kT0,
                           kT0 + h * kHour - kSec, 0,
                           static_cast<std::uint64_t>(h) * 150 * kTB / 24, false));
  }
  // Updates come at 10% growth; Finish reports the final figure.
  engine.Finish();
  const std::vector<Alert> latest = sink.Latest(AlertKind::kDatasetIngest);
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0].payload_bytes, 1050 * kTB);
  EXPECT_EQ(latest[0].external, P("2001:db8:beef::/48"));

  // Sums near 2^64 saturate instead of wrapping below the threshold.
  Collect sink2;
  o.ingest.windows = {{kHour, std::numeric_limits<std::uint64_t>::max() - 1}};
  DetectorEngine engine2(o, nullptr, &sink2);
  const std::uint64_t huge = std::uint64_t{1} << 63;
  engine2.OnTransfer(
      Xfer(1, "10.1.2.3", "203.0.113.0/24", Direction::kInbound, kT0, kT0, 0, huge, false));
  engine2.OnTransfer(
      Xfer(2, "10.1.2.4", "203.0.113.0/24", Direction::kInbound, kT0, kT0, 0, huge, false));
  ASSERT_EQ(sink2.all.size(), 1u);
  EXPECT_EQ(sink2.all[0].payload_bytes, std::numeric_limits<std::uint64_t>::max());
}

TEST(DatasetIngest, AllowListedInboundIsNotCounted) {
  DetectOptions o = SmallOptions();
  o.allow = {{"mirror", {P("203.0.0.0/16")}, {Direction::kInbound}}};
  Collect sink;
  DetectorEngine engine(o, nullptr, &sink);
  engine.OnTransfer(
      Xfer(1, "10.1.2.3", "203.0.113.0/24", Direction::kInbound, kT0, kT0, 0, 20 * kTB, true));
  EXPECT_TRUE(sink.all.empty());
}

// ---- staging_ingest ------------------------------------------------------------------------

TEST(StagingIngest, HostWithoutHistoryUploadingToStorageAlerts) {
  Collect sink;
  DetectorEngine engine(SmallOptions(), nullptr, &sink);
  // 12 TB from 10.5.5.5 into 10.20.0.0/24 within 40 minutes.
  for (int m = 1; m <= 4; ++m) {
    engine.OnTransfer(Xfer(1, "10.5.5.5", "10.20.0.0/24", Direction::kInternal, kT0,
                           kT0 + m * 10 * kMin, static_cast<std::uint64_t>(m) * 3 * kTB, 0,
                           m == 4));
  }
  const std::vector<Alert> latest = sink.Latest(AlertKind::kStagingIngest);
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0].inside, P("10.5.5.5/32"));
  EXPECT_EQ(latest[0].external, P("10.20.0.0/24"));
  EXPECT_EQ(latest[0].direction, Direction::kInternal);
  EXPECT_EQ(latest[0].payload_bytes, 12 * kTB);
  EXPECT_EQ(latest[0].window_ns, kHour);
  // Falls below once the window slides past the uploads.
  engine.AdvanceTo(StreamTime{kT0 + 3 * kHour});
  EXPECT_EQ(sink.Latest(AlertKind::kStagingIngest)[0].state, AlertState::kEnded);
}

TEST(StagingIngest, ExactlyTheThresholdIsSilent) {
  Collect sink;
  DetectorEngine engine(SmallOptions(), nullptr, &sink);
  engine.OnTransfer(Xfer(1, "10.5.5.5", "10.20.0.0/24", Direction::kInternal, kT0, kT0 + kMin,
                         10 * kTB, 0, true));
  EXPECT_TRUE(sink.all.empty());
}

TEST(StagingIngest, HostWithBulkHistoryIsSilent) {
  Collect sink;
  DetectorEngine engine(SmallOptions(), nullptr, &sink);
  // 2 TB three days earlier (>= the 1 TB baseline): this host uploads routinely.
  engine.OnTransfer(
      Xfer(1, "10.5.5.5", "10.20.0.0/24", Direction::kInternal, kT0, kT0 + kMin, 2 * kTB, 0, true));
  engine.OnTransfer(Xfer(2, "10.5.5.5", "10.20.0.0/24", Direction::kInternal, kT0 + 3 * kDay,
                         kT0 + 3 * kDay + 30 * kMin, 12 * kTB, 0, true));
  EXPECT_TRUE(sink.all.empty());
  // Another host with only 0.5 TB of history does alert.
  engine.OnTransfer(
      Xfer(3, "10.5.5.6", "10.20.0.0/24", Direction::kInternal, kT0, kT0 + kMin, kTB / 2, 0, true));
  engine.OnTransfer(Xfer(4, "10.5.5.6", "10.20.0.0/24", Direction::kInternal, kT0 + 3 * kDay,
                         kT0 + 3 * kDay + 30 * kMin, 12 * kTB, 0, true));
  EXPECT_EQ(sink.Latest(AlertKind::kStagingIngest).size(), 1u);
}

TEST(StagingIngest, LearningPeriodAndNonStorageTrafficAreSilent) {
  DetectOptions o = SmallOptions();
  o.staging.learning_ns = 1 * kDay;
  Collect sink;
  DetectorEngine engine(o, nullptr, &sink);
  engine.OnTransfer(Xfer(1, "10.5.5.5", "10.20.0.0/24", Direction::kInternal, kT0, kT0 + kMin,
                         12 * kTB, 0, true));
  // East-west bulk that does not land in storage (e.g. between GPU nodes).
  engine.OnTransfer(Xfer(2, "10.5.5.7", "10.60.0.0/24", Direction::kInternal, kT0, kT0 + kMin,
                         50 * kTB, 0, true));
  EXPECT_TRUE(sink.all.empty());
}

TEST(StagingIngest, StoragePullingFromAHostCountsTooAndIpv6Works) {
  DetectOptions o = SmallOptions();
  o.staging.storage = {P("2001:db8:100:20::/64")};
  Collect sink;
  DetectorEngine engine(o, nullptr, &sink);
  // The storage host initiates (rsync pull): the data comes back as `received`. (The peer group
  // must not overlap the storage prefix: with the sessionizer's default /48 for IPv6, every
  // internal peer of a /48 site is one group, and staging cannot tell the sides apart.)
  engine.OnTransfer(Xfer(1, "2001:db8:100:20::9", "2001:db8:100:30::/64", Direction::kInternal, kT0,
                         kT0 + kMin, 1'000'000, 11 * kTB, true));
  const std::vector<Alert> latest = sink.Latest(AlertKind::kStagingIngest);
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0].inside, P("2001:db8:100:30::/64"));  // only the uploader's group is known
  EXPECT_EQ(latest[0].external, P("2001:db8:100:20::/64"));
  EXPECT_EQ(latest[0].payload_bytes, 11 * kTB);
}

// ---- train_and_return ----------------------------------------------------------------------

void Ingest(DetectorEngine& engine, std::int64_t at) {
  engine.OnTransfer(Xfer(500, "10.1.2.3", "203.0.113.0/24", Direction::kInbound, at, at + kMin, 0,
                         11 * kTB, true));
}

TEST(TrainAndReturn, IngestThenWeightsToTheSameGroupWithinTheLimit) {
  const ModelCatalog catalog = TestCatalog();
  Collect sink;
  DetectorEngine engine(SmallOptions(), &catalog, &sink);
  Ingest(engine, kT0);
  engine.OnTransfer(Xfer(600, "10.9.9.9", "203.0.113.0/24", Direction::kOutbound, kT0 + 10 * kDay,
                         kT0 + 10 * kDay + kMin, 8'000'000'000ULL, 0, false));
  engine.OnTransfer(Xfer(600, "10.9.9.9", "203.0.113.0/24", Direction::kOutbound, kT0 + 10 * kDay,
                         kT0 + 10 * kDay + 2 * kMin, 16'060'000'000ULL, 0, true));
  const std::vector<Alert> ingest = sink.Latest(AlertKind::kDatasetIngest);
  const std::vector<Alert> weight = sink.Latest(AlertKind::kWeightTransfer);
  const std::vector<Alert> tr = sink.OfKind(AlertKind::kTrainAndReturn);
  ASSERT_EQ(ingest.size(), 1u);
  ASSERT_EQ(weight.size(), 1u);
  ASSERT_EQ(tr.size(), 2u);  // raised with the weight alert, ended with it
  EXPECT_EQ(tr[0].id, tr[1].id);
  EXPECT_EQ(tr[1].version, 2u);
  EXPECT_EQ(tr[1].state, AlertState::kEnded);
  EXPECT_EQ(tr[1].severity, AlertSeverity::kCritical);
  EXPECT_EQ(tr[1].linked_ids, (std::vector<std::uint64_t>{ingest[0].id, weight[0].id}));
  EXPECT_EQ(tr[1].first_seen, ingest[0].first_seen);
  EXPECT_EQ(tr[1].payload_bytes, 16'060'000'000ULL);
  ASSERT_TRUE(tr[1].model_match);
  EXPECT_EQ(tr[1].model_match->name, "Llama-3.1-8B");
}

TEST(TrainAndReturn, TooLateOrAnotherGroupIsNotCorrelated) {
  const ModelCatalog catalog = TestCatalog();
  Collect sink;
  DetectorEngine engine(SmallOptions(), &catalog, &sink);
  Ingest(engine, kT0);
  // Another group, 1 day later.
  engine.OnTransfer(Xfer(600, "10.9.9.9", "198.51.100.0/24", Direction::kOutbound, kT0 + kDay,
                         kT0 + kDay + kMin, 16'060'000'000ULL, 0, true));
  // The same group, 31 days after the ingest ended (limit 30 days).
  engine.OnTransfer(Xfer(601, "10.9.9.9", "203.0.113.0/24", Direction::kOutbound, kT0 + 31 * kDay,
                         kT0 + 31 * kDay + kMin, 16'060'000'000ULL, 0, true));
  EXPECT_EQ(sink.Latest(AlertKind::kWeightTransfer).size(), 2u);
  EXPECT_TRUE(sink.OfKind(AlertKind::kTrainAndReturn).empty());
}

TEST(TrainAndReturn, NamedOrganisationMatchesAcrossPrefixes) {
  const ModelCatalog catalog = TestCatalog();
  Collect sink;
  DetectorEngine engine(SmallOptions(), &catalog, &sink);
  Transfer in = Xfer(500, "10.1.2.3", "203.0.113.0/24", Direction::kInbound, kT0, kT0 + kMin, 0,
                     11 * kTB, true);
  in.external_name = "example-lab";
  engine.OnTransfer(in);
  Transfer out = Xfer(600, "10.9.9.9", "192.0.2.0/24", Direction::kOutbound, kT0 + kDay,
                      kT0 + kDay + kMin, 16'060'000'000ULL, 0, true);
  out.external_name = "example-lab";
  engine.OnTransfer(out);
  EXPECT_EQ(sink.OfKind(AlertKind::kTrainAndReturn).size(), 1u);
}

TEST(TrainAndReturn, MemorySurvivesExportAndImport) {
  const ModelCatalog catalog = TestCatalog();
  std::vector<IngestMemory> saved;
  {
    Collect sink;
    DetectorEngine engine(SmallOptions(), &catalog, &sink);
    Ingest(engine, kT0);
    engine.AdvanceTo(StreamTime{kT0 + 2 * kHour});
    saved = engine.ExportMemory();
  }
  ASSERT_EQ(saved.size(), 1u);
  EXPECT_EQ(saved[0].group, P("203.0.113.0/24"));
  EXPECT_EQ(saved[0].payload_bytes, 11 * kTB);
  EXPECT_EQ(saved[0].alert_ids.size(), 1u);
  Collect sink;
  DetectorEngine restarted(SmallOptions(), &catalog, &sink);
  restarted.ImportMemory(saved);
  EXPECT_EQ(restarted.ExportMemory(), saved);
  restarted.OnTransfer(Xfer(600, "10.9.9.9", "203.0.113.0/24", Direction::kOutbound, kT0 + 5 * kDay,
                            kT0 + 5 * kDay + kMin, 16'060'000'000ULL, 0, true));
  const std::vector<Alert> tr = sink.OfKind(AlertKind::kTrainAndReturn);
  ASSERT_EQ(tr.size(), 1u);
  EXPECT_EQ(tr[0].linked_ids.front(), saved[0].alert_ids.front());
}

// ---- common --------------------------------------------------------------------------------

TEST(DetectorEngine, SameInputGivesTheSameAlerts) {
  const ModelCatalog catalog = TestCatalog();
  auto run = [&] {
    Collect sink;
    DetectorEngine engine(SmallOptions(), &catalog, &sink);
    Ingest(engine, kT0);
    engine.OnTransfer(Xfer(600, "10.9.9.9", "203.0.113.0/24", Direction::kOutbound, kT0 + kDay,
                           kT0 + kDay + kMin, 16'060'000'000ULL, 0, true));
    engine.OnTransfer(Xfer(1, "10.5.5.5", "10.20.0.0/24", Direction::kInternal, kT0 + kDay,
                           kT0 + kDay + kMin, 12 * kTB, 0, true));
    engine.Finish();
    std::vector<std::tuple<std::uint64_t, std::uint32_t, int, std::uint64_t>> out;
    for (const Alert& a : sink.all) {
      out.emplace_back(a.id, a.version, static_cast<int>(a.state), a.payload_bytes);
    }
    return out;
  };
  const auto first = run();
  // dataset_ingest raised and ended, weight_transfer and train_and_return (both reported at
  // their end), staging_ingest raised and ended by Finish.
  EXPECT_EQ(first.size(), 6u);
  EXPECT_EQ(first, run());
}

TEST(AlertNames, AreStable) {
  EXPECT_EQ(AlertKindName(AlertKind::kWeightTransfer), "weight_transfer");
  EXPECT_EQ(AlertKindName(AlertKind::kDatasetIngest), "dataset_ingest");
  EXPECT_EQ(AlertKindName(AlertKind::kStagingIngest), "staging_ingest");
  EXPECT_EQ(AlertKindName(AlertKind::kTrainAndReturn), "train_and_return");
  EXPECT_EQ(AlertSeverityName(AlertSeverity::kInfo), "info");
  EXPECT_EQ(AlertSeverityName(AlertSeverity::kWarning), "warning");
  EXPECT_EQ(AlertSeverityName(AlertSeverity::kCritical), "critical");
  EXPECT_EQ(AlertStateName(AlertState::kActive), "active");
  EXPECT_EQ(AlertStateName(AlertState::kEnded), "ended");
  EXPECT_EQ(AlertIdString(0xabcULL), "0000000000000abc");
}

}  // namespace
}  // namespace weighbridge::analytics

namespace weighbridge::analytics {
namespace {

TEST(DetectorEngine, ReconfigureAppliesNewThresholdsAndKeepsState) {
  Collect alerts;
  const ModelCatalog catalog;
  DetectOptions opt;
  opt.weight_transfer.min_size_bytes = 100 * kGiB;
  DetectorEngine engine(opt, &catalog, &alerts);
  engine.OnTransfer(Xfer(1, "10.0.0.1", "198.51.100.0/24", Direction::kOutbound, kT0, kT0 + kMin,
                         20 * kGiB, 0, false));
  EXPECT_TRUE(alerts.OfKind(AlertKind::kWeightTransfer).empty());
  // A reload lowers the threshold: the same running transfer alerts on its next update, with its
  // whole size so far (the engine kept tracking it).
  opt.weight_transfer.min_size_bytes = 10 * kGiB;
  opt.bucket_ns = 7 * kSec;  // cannot change while running: ignored
  engine.Reconfigure(opt, &catalog);
  engine.OnTransfer(Xfer(1, "10.0.0.1", "198.51.100.0/24", Direction::kOutbound, kT0,
                         kT0 + 2 * kMin, 30 * kGiB, 0, false));
  const auto got = alerts.OfKind(AlertKind::kWeightTransfer);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload_bytes, 30 * kGiB);
  EXPECT_EQ(got[0].threshold_bytes, 10 * kGiB);
  // An allow rule added by a reload silences the peer from then on.
  AllowRuleOptions allow;
  allow.name = "partner";
  allow.prefixes = {P("198.51.100.0/24")};
  opt.allow = {allow};
  engine.Reconfigure(opt, &catalog);
  engine.OnTransfer(Xfer(2, "10.0.0.2", "198.51.100.0/24", Direction::kOutbound, kT0 + kMin,
                         kT0 + 3 * kMin, 50 * kGiB, 0, true));
  EXPECT_EQ(alerts.OfKind(AlertKind::kWeightTransfer).size(), 1u);
  EXPECT_EQ(engine.counters().allowed, 1u);
}

}  // namespace
}  // namespace weighbridge::analytics

namespace weighbridge::analytics {
namespace {

// A restart in the middle of an upload: the state exported by one engine and imported by a fresh
// one gives the same alerts (ids, versions, sizes) as one engine that never stopped.
TEST(DetectorEngine, ExportedStateContinuesInAFreshEngine) {
  const ModelCatalog catalog;
  DetectOptions opt;
  opt.weight_transfer.min_size_bytes = 10 * kGiB;
  opt.ingest.windows = {{kHour, 100 * kGiB}};
  auto feed_first = [&](DetectorEngine& e) {
    e.OnTransfer(Xfer(1, "10.0.0.1", "198.51.100.0/24", Direction::kOutbound, kT0, kT0 + kMin,
                      20 * kGiB, 0, false));
    e.OnTransfer(Xfer(2, "10.0.0.2", "203.0.113.0/24", Direction::kInbound, kT0, kT0 + kMin, 0,
                      60 * kGiB, false));
  };
  auto feed_second = [&](DetectorEngine& e) {
    e.OnTransfer(Xfer(1, "10.0.0.1", "198.51.100.0/24", Direction::kOutbound, kT0, kT0 + 20 * kMin,
                      141 * kGiB, 0, true));
    e.OnTransfer(Xfer(2, "10.0.0.2", "203.0.113.0/24", Direction::kInbound, kT0, kT0 + 20 * kMin, 0,
                      120 * kGiB, true));
    e.AdvanceTo(StreamTime{kT0 + 30 * kMin});
  };
  Collect straight;
  {
    DetectorEngine e(opt, &catalog, &straight);
    feed_first(e);
    feed_second(e);
  }
  Collect split;
  DetectorState saved;
  {
    DetectorEngine e(opt, &catalog, &split);
    feed_first(e);
    saved = e.ExportState();  // no Finish: the daemon saves instead of ending alerts
  }
  EXPECT_EQ(saved.transfers.size(), 2u);
  EXPECT_EQ(saved.ingest.size(), 1u);
  {
    DetectorEngine e(opt, &catalog, &split);
    e.ImportState(saved);
    feed_second(e);
  }
  ASSERT_EQ(split.all.size(), straight.all.size());
  for (std::size_t i = 0; i < straight.all.size(); ++i) {
    EXPECT_EQ(split.all[i].id, straight.all[i].id) << i;
    EXPECT_EQ(split.all[i].version, straight.all[i].version) << i;
    EXPECT_EQ(split.all[i].payload_bytes, straight.all[i].payload_bytes) << i;
    EXPECT_EQ(split.all[i].state, straight.all[i].state) << i;
  }
  const auto weights = split.Latest(AlertKind::kWeightTransfer);
  ASSERT_EQ(weights.size(), 1u);
  EXPECT_EQ(weights[0].payload_bytes, 141 * kGiB);
  // 120 GiB in within the hour: crossed (and projected before that), in both runs alike.
  EXPECT_GE(split.Latest(AlertKind::kDatasetIngest).size(), 1u);
  EXPECT_EQ(split.Latest(AlertKind::kDatasetIngest).size(),
            straight.Latest(AlertKind::kDatasetIngest).size());
}

}  // namespace
}  // namespace weighbridge::analytics

namespace weighbridge::analytics {
namespace {

TEST(DetectorEngine, IngestWindowPeakIsTheLargestGroupSum) {
  Collect alerts;
  const ModelCatalog catalog;
  DetectOptions opt;
  opt.ingest.windows = {{kHour, 100 * kGiB}, {kDay, 1000 * kGiB}};
  DetectorEngine e(opt, &catalog, &alerts);
  e.OnTransfer(Xfer(1, "10.0.0.1", "203.0.113.0/24", Direction::kInbound, kT0, kT0 + kMin, 0,
                    7 * kGiB, true));
  e.OnTransfer(Xfer(2, "10.0.0.2", "198.51.100.0/24", Direction::kInbound, kT0, kT0 + 2 * kMin, 0,
                    3 * kGiB, true));
  EXPECT_EQ(e.IngestWindowPeak(0), 7 * kGiB);
  EXPECT_EQ(e.IngestWindowPeak(1), 7 * kGiB);
  // Two hours later the 1 h window is empty again, the 24 h window still holds the 7 GiB.
  e.AdvanceTo(StreamTime{kT0 + 2 * kHour});
  EXPECT_EQ(e.IngestWindowPeak(0), 0u);
  EXPECT_EQ(e.IngestWindowPeak(1), 7 * kGiB);
  EXPECT_EQ(e.IngestWindowPeak(99), 0u);
}

}  // namespace
}  // namespace weighbridge::analytics
