// app/telemetry_bridge through the real replay (RunReplay with ReplayTelemetry attached), checked
// against the synthetic generator's own truth.
#include "telemetry_bridge.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include "replay.h"
#include "weighbridge/capture/site.h"
#include "weighbridge/capture/synth.h"

namespace weighbridge::app {
namespace {

// The value of an unlabelled sample, or the sum of every sample of `name` whose text contains
// `label` (e.g. direction="inbound").
std::optional<double> Sum(const std::string& text, const std::string& name,
                          const std::string& label = "") {
  std::istringstream in(text);
  std::string line;
  std::optional<double> sum;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t end = line.find_first_of("{ ");
    if (line.substr(0, end) != name) continue;
    if (!label.empty() && line.find(label) == std::string::npos) continue;
    sum = sum.value_or(0) + std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

struct Truth {
  std::uint64_t frames = 0;
  std::map<capture::Direction, std::uint64_t> bytes;
  std::size_t flows = 0;
  std::int64_t last_ns = 0;
};

// Runs the generator on its own: the frame count, and L3 bytes by direction from its truth.
Truth GeneratorTruth(const capture::SynthOptions& o, const capture::SiteClassifier& site) {
  Truth t;
  capture::SynthGenerator g(o);
  StreamTime ts;
  const std::uint8_t* data = nullptr;
  std::uint32_t caplen = 0;
  std::uint32_t wire = 0;
  while (g.Next(&ts, &data, &caplen, &wire)) {
    ++t.frames;
    t.last_ns = ts.ns;
  }
  for (const capture::SynthTruthFlow& f : g.truth()) {
    capture::Direction d = capture::Direction::kTransit;
    std::uint16_t tenant = 0;
    site.Classify(f.a, f.b, &d, &tenant);
    t.bytes[d] += f.a_to_b_bytes;
    t.bytes[capture::Reverse(d)] += f.b_to_a_bytes;
  }
  t.flows = g.truth().size();
  return t;
}

// The latest report per (agent, ifIndex) wins; interfaces beyond the cap are counted, not kept.
TEST(SflowInterfaceBook, KeepsTheLatestReportAndBoundsTheInterfaces) {
  SflowInterfaceBook book(2);
  auto report = [](const char* agent, std::uint32_t index, std::uint64_t in_octets) {
    capture::SflowInterfaceCounters c;
    c.agent = *IpAddress::Parse(agent);
    c.if_index = index;
    c.in_octets = in_octets;
    c.in_unicast_packets = 10;
    c.in_multicast_packets = 2;
    c.in_broadcast_packets = 1;
    c.if_status = 3;  // admin and oper up
    return c;
  };
  book.Update({report("192.0.2.1", 1, 100), report("192.0.2.1", 2, 200)});
  book.Update({report("192.0.2.1", 1, 150), report("192.0.2.2", 1, 999)});  // third: untracked
  EXPECT_EQ(book.size(), 2u);
  telemetry::PipelineSnapshot snap;
  book.AddToSnapshot(&snap);
  ASSERT_EQ(snap.sflow_interfaces.size(), 2u);
  EXPECT_EQ(snap.sflow_interfaces_untracked, 1u);
  for (const telemetry::SflowInterfaceSnapshot& s : snap.sflow_interfaces) {
    EXPECT_EQ(s.agent, "192.0.2.1");
    EXPECT_EQ(s.in_octets, s.if_index == 1 ? 150u : 200u);
    EXPECT_EQ(s.in_packets, 13u);
    EXPECT_TRUE(s.up);
  }
}

TEST(TelemetryBridge, ReplayCountsMatchTheGeneratorsTruth) {
  capture::SynthOptions synth;
  synth.scenario = "edge-mix";
  synth.scale = 0.2;
  capture::SiteOptions site_options;
  site_options.inside = {*Prefix::Parse("10.0.0.0/8"), *Prefix::Parse("2001:db8:100::/48")};
  const capture::SiteClassifier site(site_options);
  const Truth truth = GeneratorTruth(synth, site);
  ASSERT_GT(truth.frames, 1000u);

  auto src = capture::OpenSynth(synth, capture::DecodeOptions{}, nullptr);
  ASSERT_TRUE(src.ok()) << src.error();
  telemetry::MetricsOptions mo;
  mo.top_window_ns = 10 * kNanosPerSecond;
  telemetry::Metrics metrics(mo);
  MeteredSource metered(src->get(), &metrics);
  ReplayOptions options;
  options.pipeline.workers = 2;
  options.pipeline.flow_capacity = 4096;
  options.pipeline.site = &site;
  options.keep_flows = false;
  ReplayTelemetry bridge(&metrics, options.detect, options.pipeline, &metered);
  bridge.Attach(&options);
  bool saw_runtime = false;
  options.outputs.on_runtime = [previous = options.outputs.on_runtime,
                                &saw_runtime](const ReplayRuntime& r) {
    previous(r);
    if (r.pipeline != nullptr) saw_runtime = true;
  };
  const std::atomic<bool> stop{false};
  const ReplayResult result = RunReplay(metered, options, stop);
  ASSERT_TRUE(saw_runtime);

  // After the runtime has gone, the scrape still shows the final counts.
  const std::string text = metrics.RenderText();
  EXPECT_EQ(Sum(text, "weighbridge_frames_total"), static_cast<double>(truth.frames));
  for (const auto& [d, bytes] : truth.bytes) {
    const std::string label = std::string("direction=\"") + capture::DirectionName(d) + "\"";
    EXPECT_EQ(Sum(text, "weighbridge_bytes_total", label), static_cast<double>(bytes)) << label;
    EXPECT_EQ(Sum(text, "weighbridge_flow_bytes_total", label), static_cast<double>(bytes))
        << label;
  }
  EXPECT_EQ(Sum(text, "weighbridge_flows_started_total"), static_cast<double>(truth.flows));
  EXPECT_EQ(Sum(text, "weighbridge_flows_ended_total"), static_cast<double>(truth.flows));
  EXPECT_EQ(Sum(text, "weighbridge_flow_table_flows_created_total"),
            static_cast<double>(truth.flows));
  EXPECT_EQ(Sum(text, "weighbridge_flow_table_active_flows"), 0);  // all flushed
  EXPECT_EQ(Sum(text, "weighbridge_flow_table_capacity_flows", "shard=\"1\""), 2048);
  EXPECT_EQ(Sum(text, "weighbridge_stream_time_seconds"), static_cast<double>(truth.last_ns) / 1e9);
  EXPECT_GT(*Sum(text, "weighbridge_burst_processing_seconds_count"), 0);
  // The default ingest windows, with their thresholds.
  EXPECT_EQ(Sum(text, "weighbridge_ingest_window_threshold_bytes", "window=\"1h\""), 10e12);
  EXPECT_EQ(Sum(text, "weighbridge_ingest_window_threshold_bytes", "window=\"7d\""), 1e15);
  // The last partial top-K window was published at the end.
  EXPECT_GT(Sum(text, "weighbridge_top_peer_group_bytes").value_or(0), 0);
  EXPECT_EQ(Sum(text, "weighbridge_transfers_active"), 0);
  EXPECT_EQ(Sum(text, "weighbridge_transfers_ended_total"),
            static_cast<double>(result.summary.transfers.value_or(0)));
  EXPECT_GT(result.summary.transfers.value_or(0), 0u);
}

}  // namespace
}  // namespace weighbridge::app
