#include "weighbridge/telemetry/metrics.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace weighbridge::telemetry {
namespace {

using analytics::Alert;
using analytics::AlertKind;
using analytics::AlertSeverity;
using analytics::AlertState;
using analytics::FlowEndReason;
using analytics::FlowUpdate;
using capture::Direction;

// One sample of the text format: name, labels, value.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// A small parser of the exposition text (our own, so the test does not trust the serializer's
// round trip of its own output).
std::vector<Sample> Parse(const std::string& text) {
  std::vector<Sample> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    std::size_t i = line.find_first_of("{ ");
    s.name = line.substr(0, i);
    if (line[i] == '{') {
      ++i;
      while (line[i] != '}') {
        const std::size_t eq = line.find('=', i);
        const std::string key = line.substr(i, eq - i);
        std::size_t j = eq + 2;  // after ="
        std::string value;
        while (line[j] != '"') {
          if (line[j] == '\\') ++j;
          value += line[j++];
        }
        s.labels[key] = value;
        i = j + 1;
        if (line[i] == ',') ++i;
      }
      ++i;
    }
    s.value = std::strtod(line.c_str() + i + 1, nullptr);
    out.push_back(std::move(s));
  }
  return out;
}

// The value of the one sample named `name` whose labels include `labels`; nullopt if none.
std::optional<double> Value(const std::string& text, const std::string& name,
                            const std::map<std::string, std::string>& labels = {}) {
  std::optional<double> found;
  for (const Sample& s : Parse(text)) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) match = false;
    }
    if (!match) continue;
    EXPECT_FALSE(found.has_value()) << "two samples of " << name << " match";
    found = s.value;
  }
  return found;
}

IpAddress V4(int a, int b, int c, int d) {
  return IpAddress::V4((static_cast<std::uint32_t>(a) << 24) |
                       (static_cast<std::uint32_t>(b) << 16) |
                       (static_cast<std::uint32_t>(c) << 8) | static_cast<std::uint32_t>(d));
}

FlowUpdate Update(IpAddress a, IpAddress b, Direction dir, std::uint64_t ab_bytes,
                  std::uint64_t ba_bytes, std::int64_t at_s) {
  FlowUpdate u;
  u.key.a = a;
  u.key.b = b;
  u.key.proto = 6;
  u.direction = dir;
  u.a_to_b.packets = ab_bytes / 1000 + 1;
  u.a_to_b.l3_bytes = ab_bytes;
  u.a_to_b.payload_bytes = ab_bytes / 2;
  u.b_to_a.packets = ba_bytes / 1000 + 1;
  u.b_to_a.l3_bytes = ba_bytes;
  u.at = StreamTime{at_s * kNanosPerSecond};
  u.first = u.at;
  u.last = u.at;
  u.reason = FlowEndReason::kIdle;
  return u;
}

TEST(Metrics, FlowUpdatesCountByDirectionAndFamily) {
  Metrics m;
  // Outbound v4: a (inside) sends 5000, receives 700.
  m.flow_sink()->OnFlowUpdate(
      Update(V4(10, 0, 0, 1), V4(203, 0, 113, 5), Direction::kOutbound, 5000, 700, 10));
  // Inbound v4: a (outside) sends 9000 in.
  m.flow_sink()->OnFlowUpdate(
      Update(V4(192, 0, 2, 1), V4(10, 0, 0, 2), Direction::kInbound, 9000, 100, 11));
  // Internal v6.
  FlowUpdate v6 = Update(*IpAddress::Parse("2001:db8:100::1"), *IpAddress::Parse("2001:db8:100::2"),
                         Direction::kInternal, 4000, 0, 12);
  v6.reason = FlowEndReason::kActive;
  m.flow_sink()->OnFlowUpdate(v6);
  const std::string text = m.RenderText();
  EXPECT_EQ(
      Value(text, "weighbridge_flow_bytes_total", {{"direction", "outbound"}, {"family", "ipv4"}}),
      5000 + 100);
  EXPECT_EQ(
      Value(text, "weighbridge_flow_bytes_total", {{"direction", "inbound"}, {"family", "ipv4"}}),
      9000 + 700);
  EXPECT_EQ(
      Value(text, "weighbridge_flow_bytes_total", {{"direction", "internal"}, {"family", "ipv6"}}),
      4000);
  EXPECT_EQ(Value(text, "weighbridge_flow_payload_bytes_total",
                  {{"direction", "outbound"}, {"family", "ipv4"}}),
            2500);
  EXPECT_EQ(
      Value(text, "weighbridge_flow_packets_total", {{"direction", "inbound"}, {"family", "ipv4"}}),
      10 + 1);
  EXPECT_EQ(Value(text, "weighbridge_flows_ended_total", {{"reason", "idle"}}), 2);
  EXPECT_EQ(Value(text, "weighbridge_flow_updates_total"), 3);
  EXPECT_EQ(Value(text, "weighbridge_stream_time_seconds"), 12);
  // No IP address or port ever appears as a label outside the top-K families.
  for (const Sample& s : Parse(text)) {
    if (s.name.starts_with("weighbridge_top_")) continue;
    for (const auto& [k, v] : s.labels) {
      EXPECT_FALSE(IpAddress::Parse(v).has_value()) << s.name << " " << k << "=" << v;
      EXPECT_FALSE(Prefix::Parse(v).has_value()) << s.name << " " << k << "=" << v;
    }
  }
}

TEST(Metrics, TopKRanksPeerGroupsAndHostsOverTheLastWindow) {
  MetricsOptions o;
  o.top_k = 3;
  o.top_window_ns = 60 * kNanosPerSecond;
  Metrics m(o);
  // Window [0, 60): groups 203.0.113.0/24 (two hosts, 3000 out in all), 198.51.100.0/24 (2500
  // in), 192.0.2.0/24 (1000 out), 100.64.0.0/24 (10 out) -> top 3 leaves out 100.64.0.0/24.
  auto* s = m.flow_sink();
  s->OnFlowUpdate(Update(V4(10, 0, 0, 1), V4(203, 0, 113, 5), Direction::kOutbound, 2000, 0, 1));
  s->OnFlowUpdate(Update(V4(10, 0, 0, 1), V4(203, 0, 113, 9), Direction::kOutbound, 1000, 0, 2));
  s->OnFlowUpdate(Update(V4(198, 51, 100, 7), V4(10, 0, 0, 2), Direction::kInbound, 2500, 0, 3));
  s->OnFlowUpdate(Update(V4(10, 0, 0, 3), V4(192, 0, 2, 1), Direction::kOutbound, 1000, 0, 4));
  s->OnFlowUpdate(Update(V4(10, 0, 0, 4), V4(100, 64, 0, 1), Direction::kOutbound, 10, 0, 5));
  // Nothing published while the first window runs.
  EXPECT_EQ(Value(m.RenderText(), "weighbridge_top_peer_group_bytes",
                  {{"group", "203.0.113.0/24"}, {"direction", "outbound"}}),
            std::nullopt);
  // An update in the next window closes the first.
  s->OnFlowUpdate(Update(V4(10, 0, 0, 9), V4(8, 8, 8, 8), Direction::kOutbound, 1, 0, 61));
  std::string text = m.RenderText();
  EXPECT_EQ(Value(text, "weighbridge_top_peer_group_bytes",
                  {{"group", "203.0.113.0/24"}, {"direction", "outbound"}}),
            3000);
  EXPECT_EQ(Value(text, "weighbridge_top_peer_group_bytes",
                  {{"group", "198.51.100.0/24"}, {"direction", "inbound"}}),
            2500);
  EXPECT_EQ(Value(text, "weighbridge_top_peer_group_bytes",
                  {{"group", "192.0.2.0/24"}, {"direction", "outbound"}}),
            1000);
  EXPECT_EQ(Value(text, "weighbridge_top_peer_group_bytes", {{"group", "100.64.0.0/24"}}),
            std::nullopt);
  EXPECT_EQ(Value(text, "weighbridge_top_inside_host_bytes",
                  {{"host", "10.0.0.1"}, {"direction", "outbound"}}),
            3000);
  EXPECT_EQ(Value(text, "weighbridge_top_inside_host_bytes",
                  {{"host", "10.0.0.2"}, {"direction", "inbound"}}),
            2500);
  EXPECT_EQ(Value(text, "weighbridge_top_window_seconds"), 60);
  // At most K groups, two directions each.
  int groups = 0;
  for (const Sample& x : Parse(text)) groups += x.name == "weighbridge_top_peer_group_bytes";
  EXPECT_EQ(groups, 6);
  // FlushWindow publishes the window in progress (only 8.8.8.0/24 so far).
  m.FlushWindow();
  text = m.RenderText();
  EXPECT_EQ(Value(text, "weighbridge_top_peer_group_bytes",
                  {{"group", "8.8.8.0/24"}, {"direction", "outbound"}}),
            1);
  EXPECT_EQ(Value(text, "weighbridge_top_peer_group_bytes", {{"group", "203.0.113.0/24"}}),
            std::nullopt);
}

TEST(Metrics, TopKGroupsIpv6By48) {
  MetricsOptions o;
  Metrics m(o);
  m.flow_sink()->OnFlowUpdate(Update(*IpAddress::Parse("2001:db8:100::5"),
                                     *IpAddress::Parse("2001:db8:f00:1234::77"),
                                     Direction::kOutbound, 777, 0, 1));
  m.FlushWindow();
  EXPECT_EQ(Value(m.RenderText(), "weighbridge_top_peer_group_bytes",
                  {{"group", "2001:db8:f00::/48"}, {"direction", "outbound"}}),
            777);
}

TEST(Metrics, TransfersActiveEndedAndSizes) {
  Metrics m;
  analytics::Transfer t;
  t.id = 1;
  t.kind = Direction::kOutbound;
  t.sent.payload_bytes = 5'000'000;
  m.transfer_sink()->OnTransfer(t);
  t.sent.payload_bytes = 20'000'000;
  m.transfer_sink()->OnTransfer(t);  // the same transfer grows
  analytics::Transfer in;
  in.id = 2;
  in.kind = Direction::kInbound;
  in.received.payload_bytes = 1000;
  m.transfer_sink()->OnTransfer(in);
  std::string text = m.RenderText();
  EXPECT_EQ(Value(text, "weighbridge_transfers_active", {{"kind", "outbound"}}), 1);
  EXPECT_EQ(Value(text, "weighbridge_transfers_active", {{"kind", "inbound"}}), 1);
  EXPECT_EQ(Value(text, "weighbridge_transfers_started_total", {{"kind", "outbound"}}), 1);
  EXPECT_EQ(
      Value(text, "weighbridge_transfer_largest_active_payload_bytes", {{"kind", "outbound"}}),
      20'000'000);
  t.ended = true;
  m.transfer_sink()->OnTransfer(t);
  text = m.RenderText();
  EXPECT_EQ(Value(text, "weighbridge_transfers_active", {{"kind", "outbound"}}), 0);
  EXPECT_EQ(Value(text, "weighbridge_transfers_ended_total", {{"kind", "outbound"}}), 1);
  EXPECT_EQ(Value(text, "weighbridge_transfer_payload_bytes_count", {{"kind", "outbound"}}), 1);
  EXPECT_EQ(Value(text, "weighbridge_transfer_payload_bytes_sum", {{"kind", "outbound"}}),
            20'000'000);
  // 20 MB lands in the le=1e8 bucket, not in le=1e7.
  EXPECT_EQ(Value(text, "weighbridge_transfer_payload_bytes_bucket",
                  {{"kind", "outbound"}, {"le", "10000000"}}),
            0);
  EXPECT_EQ(Value(text, "weighbridge_transfer_payload_bytes_bucket",
                  {{"kind", "outbound"}, {"le", "100000000"}}),
            1);
}

TEST(Metrics, AlertsByKindSeverityAndState) {
  Metrics m;
  Alert a;
  a.id = 7;
  a.kind = AlertKind::kWeightTransfer;
  a.severity = AlertSeverity::kWarning;
  a.state = AlertState::kActive;
  m.alert_sink()->OnAlert(a);
  a.version = 2;
  a.severity = AlertSeverity::kCritical;  // raised to critical as it grows
  m.alert_sink()->OnAlert(a);
  Alert b;
  b.id = 8;
  b.kind = AlertKind::kDatasetIngest;
  b.severity = AlertSeverity::kInfo;
  m.alert_sink()->OnAlert(b);
  std::string text = m.RenderText();
  EXPECT_EQ(Value(text, "weighbridge_alerts_total",
                  {{"kind", "weight_transfer"}, {"severity", "warning"}}),
            1);
  EXPECT_EQ(Value(text, "weighbridge_alerts_total",
                  {{"kind", "weight_transfer"}, {"severity", "critical"}}),
            0);
  EXPECT_EQ(Value(text, "weighbridge_alert_updates_total",
                  {{"kind", "weight_transfer"}, {"severity", "critical"}, {"state", "active"}}),
            1);
  EXPECT_EQ(Value(text, "weighbridge_alerts_active", {{"kind", "weight_transfer"}}), 1);
  EXPECT_EQ(Value(text, "weighbridge_alerts_active", {{"kind", "dataset_ingest"}}), 1);
  EXPECT_GT(*Value(text, "weighbridge_alert_last_timestamp_seconds", {{"kind", "dataset_ingest"}}),
            1.6e9);
  a.version = 3;
  a.state = AlertState::kEnded;
  m.alert_sink()->OnAlert(a);
  text = m.RenderText();
  EXPECT_EQ(Value(text, "weighbridge_alerts_active", {{"kind", "weight_transfer"}}), 0);
  EXPECT_EQ(Value(text, "weighbridge_alert_updates_total",
                  {{"kind", "weight_transfer"}, {"severity", "critical"}, {"state", "ended"}}),
            1);
}

TEST(Metrics, SnapshotIsSummedAndEveryDecodeReasonIsListed) {
  Metrics m;
  // Without a source the pipeline families are there, at zero.
  EXPECT_EQ(Value(m.RenderText(), "weighbridge_frames_total"), 0);
  m.SetSnapshotSource([](PipelineSnapshot* s) {
    s->frames = 1234;
    s->decode_errors[static_cast<std::size_t>(capture::DecodeResult::kTruncatedIpv4)] = 5;
    s->shards.resize(2);
    s->shards[0].active_flows = 25;
    s->shards[0].capacity_flows = 100;
    s->shards[1].ring_full_drops = 9;
    s->sources.push_back({"live:eth1", {}});
    s->sources.back().stats.kernel_drops = 3;
    s->sources.back().stats.nic_rx_nombuf = 4;
    s->ingest_windows.push_back({3600 * kNanosPerSecond, 10'000, 2'500});
    s->deliveries[static_cast<std::size_t>(DeliveryReceiver::kWebhook)]
                 [static_cast<std::size_t>(DeliveryResult::kRetried)] = 2;
    s->history.db_size_bytes = 4096;
    s->newest_packet = StreamTime{1'000 * kNanosPerSecond};
  });
  const std::string text = m.RenderText();
  EXPECT_EQ(Value(text, "weighbridge_frames_total"), 1234);
  EXPECT_EQ(Value(text, "weighbridge_decode_errors_total", {{"reason", "truncated_ipv4"}}), 5);
  int reasons = 0;
  for (const Sample& s : Parse(text)) reasons += s.name == "weighbridge_decode_errors_total";
  EXPECT_EQ(reasons, static_cast<int>(capture::kDecodeResultCount) - 1);  // all but ok
  EXPECT_EQ(Value(text, "weighbridge_flow_table_load_ratio", {{"shard", "0"}}), 0.25);
  EXPECT_EQ(Value(text, "weighbridge_ring_full_drops_total", {{"shard", "1"}}), 9);
  EXPECT_EQ(Value(text, "weighbridge_capture_drops_total",
                  {{"source", "live:eth1"}, {"where", "kernel"}}),
            3);
  EXPECT_EQ(Value(text, "weighbridge_capture_drops_total",
                  {{"source", "live:eth1"}, {"where", "nic_rx_nombuf"}}),
            4);
  EXPECT_EQ(Value(text, "weighbridge_ingest_window_bytes", {{"window", "1h"}}), 2500);
  EXPECT_EQ(Value(text, "weighbridge_ingest_window_threshold_bytes", {{"window", "1h"}}), 10000);
  EXPECT_EQ(Value(text, "weighbridge_alert_deliveries_total",
                  {{"receiver", "webhook"}, {"result", "retried"}}),
            2);
  EXPECT_EQ(Value(text, "weighbridge_history_db_size_bytes"), 4096);
  EXPECT_EQ(Value(text, "weighbridge_stream_time_seconds"), 1000);
  EXPECT_GT(*Value(text, "weighbridge_pipeline_lag_seconds"), 1.6e9);  // stream time is 1970
}

// Flow-protocol families exist only with such inputs, and carry every drop reason.
TEST(Metrics, FlowInputFamiliesOnlyWithFlowInputs) {
  Metrics m;
  EXPECT_FALSE(Value(m.RenderText(), "weighbridge_flow_input_datagrams_total",
                     {{"source", "sflow:0.0.0.0:6343"}}));
  m.SetSnapshotSource([](PipelineSnapshot* s) {
    FlowInputSnapshot in;
    in.source = "sflow:0.0.0.0:6343";
    in.datagrams = 100;
    in.sampled_packets = 950;
    in.dropped[static_cast<std::size_t>(capture::FlowDropReason::kExporterNotAllowed)] = 7;
    in.templates_expired = 2;
    s->flow_inputs.push_back(in);
    SflowInterfaceSnapshot i;
    i.agent = "192.0.2.1";
    i.if_index = 3;
    i.in_octets = 123'456'789;
    i.out_errors = 4;
    i.speed_bps = 100'000'000'000;
    i.up = true;
    s->sflow_interfaces.push_back(i);
  });
  const std::string text = m.RenderText();
  const std::map<std::string, std::string> src = {{"source", "sflow:0.0.0.0:6343"}};
  EXPECT_EQ(Value(text, "weighbridge_flow_input_datagrams_total", src), 100);
  EXPECT_EQ(Value(text, "weighbridge_flow_input_samples_total", src), 950);
  EXPECT_EQ(Value(text, "weighbridge_flow_input_dropped_total",
                  {{"source", "sflow:0.0.0.0:6343"}, {"reason", "exporter_not_allowed"}}),
            7);
  EXPECT_EQ(Value(text, "weighbridge_flow_input_templates_total",
                  {{"source", "sflow:0.0.0.0:6343"}, {"event", "expired"}}),
            2);
  int reasons = 0;
  for (const Sample& x : Parse(text)) reasons += x.name == "weighbridge_flow_input_dropped_total";
  EXPECT_EQ(reasons, static_cast<int>(capture::kFlowDropReasonCount));
  EXPECT_EQ(Value(text, "weighbridge_sflow_interface_octets_total",
                  {{"agent", "192.0.2.1"}, {"ifindex", "3"}, {"direction", "in"}}),
            123'456'789);
  EXPECT_EQ(Value(text, "weighbridge_sflow_interface_errors_total",
                  {{"agent", "192.0.2.1"}, {"ifindex", "3"}, {"direction", "out"}}),
            4);
  EXPECT_EQ(
      Value(text, "weighbridge_sflow_interface_up", {{"agent", "192.0.2.1"}, {"ifindex", "3"}}), 1);
}

TEST(Metrics, BurstHistogramBuckets) {
  Metrics m;
  m.ObserveBurst(3'000);          // 3 us
  m.ObserveBurst(40'000'000);     // 40 ms
  m.ObserveBurst(2'000'000'000);  // 2 s: only +Inf
  const std::string text = m.RenderText();
  EXPECT_EQ(Value(text, "weighbridge_burst_processing_seconds_count"), 3);
  EXPECT_EQ(Value(text, "weighbridge_burst_processing_seconds_bucket", {{"le", "5e-06"}}), 1);
  EXPECT_EQ(Value(text, "weighbridge_burst_processing_seconds_bucket", {{"le", "0.1"}}), 2);
  EXPECT_EQ(Value(text, "weighbridge_burst_processing_seconds_bucket", {{"le", "+Inf"}}), 3);
  EXPECT_NEAR(*Value(text, "weighbridge_burst_processing_seconds_sum"), 2.040003, 1e-9);
}

// Fetches http://127.0.0.1:port/metrics with a plain socket; "" on failure.
std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req =
        "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size())) {
      char buf[8192];
      for (int i = 0; i < 10000; ++i) {
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        response.append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  close(fd);
  return response;
}

TEST(Metrics, ServesOverHttpAndRejectsABusyPort) {
  Metrics m;
  ASSERT_TRUE(m.Serve("127.0.0.1:0").ok());
  const int port = m.port();
  ASSERT_GT(port, 0);
  m.flow_sink()->OnFlowUpdate(
      Update(V4(10, 0, 0, 1), V4(203, 0, 113, 5), Direction::kOutbound, 4242, 0, 1));
  const std::string response = HttpGet(port, "/metrics");
  ASSERT_NE(response.find("200 OK"), std::string::npos) << response.substr(0, 200);
  const std::string body = response.substr(response.find("\r\n\r\n") + 4);
  EXPECT_EQ(
      Value(body, "weighbridge_flow_bytes_total", {{"direction", "outbound"}, {"family", "ipv4"}}),
      4242);
  EXPECT_EQ(Value(body, "weighbridge_build_info", {{"version", "unknown"}}), 1);
  // The same port again: a clear error naming the address, no exception.
  Metrics other;
  const Status s = other.Serve("127.0.0.1:" + std::to_string(port));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << s.message();
  EXPECT_FALSE(m.Serve("127.0.0.1:0").ok());  // at most once
}

TEST(Metrics, ScrapesWhileSinksRun) {
  Metrics m;
  // The writer keeps feeding until the reader has scraped 50 times (bounded by a count), so the
  // two really overlap; run under the tsan preset to check the hand-over.
  std::atomic<int> scrapes{0};
  std::atomic<bool> done{false};
  int written = 0;
  std::thread writer([&] {
    for (int i = 0; i < 2'000'000 && scrapes.load() < 50; ++i) {
      m.flow_sink()->OnFlowUpdate(Update(V4(10, 0, i % 200, 1), V4(203, 0, i % 50, 5),
                                         Direction::kOutbound, 100, 1, i / 100));
      analytics::Transfer t;
      t.id = static_cast<std::uint64_t>(i % 300);
      t.ended = i % 3 == 0;
      m.transfer_sink()->OnTransfer(t);
      Alert a;
      a.id = static_cast<std::uint64_t>(i % 7);
      a.state = i % 2 == 0 ? AlertState::kActive : AlertState::kEnded;
      m.alert_sink()->OnAlert(a);
      ++written;
    }
    done = true;
  });
  double last = 0;
  for (int i = 0; i < 100000 && !done.load(); ++i) {
    const std::string text = m.RenderText();
    const std::optional<double> v = Value(text, "weighbridge_flow_updates_total");
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(*v, last);  // a counter never goes back
    last = *v;
    scrapes.fetch_add(1);
  }
  writer.join();
  EXPECT_GE(scrapes.load(), 1);
  EXPECT_EQ(Value(m.RenderText(), "weighbridge_flow_updates_total"), written);
}

// promtool's own lint of the exposition format, on a scrape with every family populated.
TEST(Metrics, PromtoolCheckMetricsPasses) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): no other thread runs in this test
  if (std::system("promtool --version > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  }
  MetricsOptions o;
  o.version = "0.1.0";
  Metrics m(o);
  m.flow_sink()->OnFlowUpdate(
      Update(V4(10, 0, 0, 1), V4(203, 0, 113, 5), Direction::kOutbound, 5000, 700, 10));
  m.FlushWindow();
  m.ObserveBurst(1000);
  Alert a;
  m.alert_sink()->OnAlert(a);
  m.SetSnapshotSource([](PipelineSnapshot* s) {
    s->shards.resize(2);
    s->sources.push_back({"pcap:x.pcap", {}});
    s->ingest_windows.push_back({3600 * kNanosPerSecond, 10, 1});
  });
  const std::string path = ::testing::TempDir() + "/weighbridge_metrics.txt";
  {
    std::ofstream f(path);
    f << m.RenderText();
  }
  const std::string cmd = "promtool check metrics < " + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) output += buf;
  const int rc = pclose(p);
  std::remove(path.c_str());
  EXPECT_EQ(rc, 0) << output;
  EXPECT_EQ(output, "") << "promtool has complaints";
}

}  // namespace
}  // namespace weighbridge::telemetry
