// `weighbridge demo`: built-in synthetic edge traffic through the whole pipeline, summarised
// for a newcomer. Needs no capture, no network and no external service.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "args.h"
#include "commands.h"
#include "config.h"
#include "detect_setup.h"
#include "replay.h"
#include "telemetry_bridge.h"
#include "weighbridge/capture/synth.h"
#include "weighbridge/telemetry/metrics.h"

namespace weighbridge::app {

namespace {

constexpr const char* kDemoUsage = R"(usage: weighbridge demo [options]

Generates synthetic data-centre edge traffic in memory (default scenario demo), accounts
every packet and flow, and prints what a sensor at that edge would report.

options:
  --scenario NAME   which traffic (weighbridge synth --list)
  --seed N          random seed (default 1)
  --top N           how many flows to list (default 10)
  --metrics LISTEN  serve Prometheus metrics here while the demo runs (default 127.0.0.1:9477;
                    "off" for none; a busy port is reported and the demo goes on without)
  --linger D        keep serving the metrics this long after the summary (e.g. 60s)
)";

std::string HumanBytes(std::uint64_t b) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1000 && u < 5) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.2f %s", v, units[u]);
  return buf;
}

}  // namespace

int DemoCommand(std::span<const std::string_view> argv) {
  Args args(argv, {"--scenario", "--seed", "--top", "--metrics", "--linger"}, {"--help"});
  if (args.Has("--help")) {
    std::fputs(kDemoUsage, stdout);
    return kExitOk;
  }
  const auto seed = args.Unsigned("--seed", 0, UINT64_MAX);
  const auto top = args.Unsigned("--top", 1, 1000);
  if (!args.error().empty() || !args.positionals().empty()) {
    std::fprintf(stderr, "weighbridge: %s\n\n%s",
                 args.error().empty() ? "demo takes no positional arguments" : args.error().c_str(),
                 kDemoUsage);
    return kExitUsage;
  }
  // The generator's site (docs/synth.md): what a config at that edge would say.
  Config config = DefaultConfig();
  config.site.inside = {*Prefix::Parse("10.0.0.0/8"), *Prefix::Parse("2001:db8:100::/48")};
  config.site.tenants = {{"research", {*Prefix::Parse("10.30.0.0/16")}}};
  config.detect.staging.storage = {*Prefix::Parse("10.20.0.0/24")};
  // Synthetic traffic of a minute cannot hold terabytes: the demo scales every threshold down
  // (by about a thousand for weights, a million for ingest) and says so.
  config.detect.weight_transfer.min_size_bytes = 16'000'000;
  config.detect.ingest.windows = {{3600 * kNanosPerSecond, 25'000'000}};
  config.detect.staging.threshold_bytes = 5'000'000;
  capture::SynthOptions synth;
  synth.scenario = args.Value("--scenario").value_or("demo");
  if (seed) synth.seed = *seed;
  const capture::SiteClassifier site(config.site);
  auto source = capture::OpenSynth(synth, config.decode, nullptr);
  if (!source.ok()) {
    std::fprintf(stderr, "weighbridge: demo: %s\n", source.error().c_str());
    return kExitUsage;
  }
  std::printf(
      "weighbridge demo: thresholds scaled down for a minute of traffic: weight transfers "
      "from 16 MB, ingest above 25 MB an hour, staging above 5 MB an hour\n");
  std::printf("weighbridge demo: scenario %s (seed %llu), site inside:", synth.scenario.c_str(),
              static_cast<unsigned long long>(synth.seed));
  for (const Prefix& p : config.site.inside) std::printf(" %s", p.ToString().c_str());
  std::printf("\n\n");

  ReplayOptions options;
  options.pipeline = config.pipeline;
  options.pipeline.site = &site;
  options.sessionizer = SessionizerOptionsFrom(config);
  options.detect = DetectOptionsFrom(config);
  options.keep_flows = true;
  options.keep_transfers = true;
  auto catalog = LoadCatalogFor(config, std::nullopt);
  if (catalog.ok()) {
    options.catalog = &*catalog;
  } else {
    std::fprintf(stderr, "weighbridge: demo: no model catalog (%s): alerts carry no model match\n",
                 catalog.error().c_str());
  }
  std::int64_t linger_ns = 0;
  if (const auto text = args.Value("--linger")) {
    if (const std::string why = ParseDuration(*text, &linger_ns); !why.empty()) {
      std::fprintf(stderr, "weighbridge: --linger: %s\n\n%s", why.c_str(), kDemoUsage);
      return kExitUsage;
    }
  }
  // The metrics endpoint, up while the demo runs (what a dashboard would scrape).
  const std::string listen = args.Value("--metrics").value_or("127.0.0.1:9477");
  telemetry::Metrics metrics(MetricsOptionsFrom(config, kVersion));
  MeteredSource metered(source->get(), &metrics);
  ReplayTelemetry bridge(&metrics, options.detect, options.pipeline, &metered);
  capture::PacketSource* read_from = source->get();
  bool serving = false;
  if (listen != "off") {
    if (const Status st = metrics.Serve(listen); st.ok()) {
      bridge.Attach(&options);
      read_from = &metered;
      serving = true;
      std::printf("metrics: http://%s/metrics while the demo runs%s\n\n", listen.c_str(),
                  linger_ns > 0 ? " and for --linger after it" : " (--linger 60s keeps them up)");
    } else {
      std::printf("metrics: not served (%s); the demo goes on without them\n\n",
                  st.message().c_str());
    }
  }
  std::atomic<bool> stop{false};
  const auto t0 = std::chrono::steady_clock::now();
  ReplayResult r = RunReplay(*read_from, options, stop);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const ReplaySummary& s = r.summary;

  std::printf(
      "traffic   %llu frames, %llu IP packets (%llu IPv4, %llu IPv6), %s at L3, in %.2f s "
      "(%.2f Mpps)\n",
      static_cast<unsigned long long>(s.frames), static_cast<unsigned long long>(s.ip_packets),
      static_cast<unsigned long long>(s.ipv4_packets),
      static_cast<unsigned long long>(s.ipv6_packets), HumanBytes(s.l3_bytes).c_str(), secs,
      static_cast<double>(s.frames) / secs / 1e6);
  for (std::size_t d = 0; d < 4; ++d) {
    std::printf("  %-9s %10llu packets  %12s\n",
                capture::DirectionName(static_cast<capture::Direction>(d)),
                static_cast<unsigned long long>(s.direction_packets[d]),
                HumanBytes(s.direction_bytes[d]).c_str());
  }
  std::uint64_t errors = 0;
  for (std::size_t i = 1; i < capture::kDecodeResultCount; ++i) errors += s.decode_errors[i];
  std::printf("flows     %llu bidirectional flows; %llu frames not accounted (decode reasons)\n\n",
              static_cast<unsigned long long>(s.flows), static_cast<unsigned long long>(errors));

  std::vector<const FlowLine*> by_size;
  for (const FlowLine& f : r.flows) by_size.push_back(&f);
  const std::size_t n = std::min<std::size_t>(top.value_or(10), by_size.size());
  std::partial_sort(by_size.begin(), by_size.begin() + static_cast<std::ptrdiff_t>(n),
                    by_size.end(), [](const FlowLine* x, const FlowLine* y) {
                      return x->a_to_b.l3_bytes + x->b_to_a.l3_bytes >
                             y->a_to_b.l3_bytes + y->b_to_a.l3_bytes;
                    });
  std::printf("largest flows (a = the side that spoke first; payload = unique TCP/UDP payload)\n");
  std::printf("  %-5s %-40s %-40s %12s %12s\n", "proto", "a", "b", "a->b payload", "b->a payload");
  for (std::size_t i = 0; i < n; ++i) {
    const FlowLine& f = *by_size[i];
    const std::string a = f.key.a.ToString() + ":" + std::to_string(f.key.a_port);
    const std::string b = f.key.b.ToString() + ":" + std::to_string(f.key.b_port);
    std::printf("  %-5u %-40s %-40s %12s %12s\n", f.key.proto, a.c_str(), b.c_str(),
                HumanBytes(f.a_to_b.payload_bytes).c_str(),
                HumanBytes(f.b_to_a.payload_bytes).c_str());
  }

  std::printf(
      "\n%llu transfers (flows between one inside host and one external /24 or /48, gaps "
      "under %lld s); the largest:\n",
      static_cast<unsigned long long>(r.transfers.size()),
      static_cast<long long>(config.detect.weight_transfer.gap_ns / kNanosPerSecond));
  std::vector<const analytics::Transfer*> big;
  for (const analytics::Transfer& t : r.transfers) big.push_back(&t);
  const std::size_t nt = std::min<std::size_t>(5, big.size());
  std::partial_sort(
      big.begin(), big.begin() + static_cast<std::ptrdiff_t>(nt), big.end(),
      [](const auto* x, const auto* y) { return x->PayloadBytes() > y->PayloadBytes(); });
  for (std::size_t i = 0; i < nt; ++i) {
    const analytics::Transfer& t = *big[i];
    std::printf("  %-8s %-22s %-20s %3u flows  sent %10s  received %10s\n",
                capture::DirectionName(t.kind), t.inside.ToString().c_str(),
                t.external.ToString().c_str(), t.flows, HumanBytes(t.sent.payload_bytes).c_str(),
                HumanBytes(t.received.payload_bytes).c_str());
  }
  std::printf("\nalerts: %zu versions of %llu alerts\n", r.alerts.size(),
              static_cast<unsigned long long>(r.summary.alerts.value_or(0)));
  for (const analytics::Alert& a : r.alerts) {
    if (a.state != analytics::AlertState::kEnded) continue;
    std::printf("  %s %s %s -> %s: %s%s%s\n", std::string(analytics::AlertKindName(a.kind)).c_str(),
                std::string(analytics::AlertSeverityName(a.severity)).c_str(),
                a.has_inside ? HostOrPrefix(a.inside).c_str() : "-", a.external.ToString().c_str(),
                HumanBytes(a.payload_bytes).c_str(), a.model_match ? ", matches " : "",
                a.model_match ? (a.model_match->name + " " + a.model_match->dtype).c_str() : "");
  }
  if (serving && linger_ns > 0) {
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::nanoseconds(linger_ns));
  }
  return kExitOk;
}

}  // namespace weighbridge::app
