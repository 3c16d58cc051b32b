// app/ headers are private to the binary, so the path is relative to this file.
#include "config.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <variant>

namespace weighbridge::app {
namespace {

Config MustLoad(std::string_view text) {
  auto r = LoadConfigText(text, "t.yaml");
  if (auto* e = std::get_if<ConfigErrors>(&r)) {
    std::string all;
    for (const auto& l : e->lines) all += l + "\n";
    ADD_FAILURE() << "unexpected errors for:\n" << text << "\n" << all;
    return Config{};
  }
  return std::get<Config>(std::move(r));
}

std::vector<std::string> Errors(std::string_view text) {
  auto r = LoadConfigText(text, "t.yaml");
  if (auto* e = std::get_if<ConfigErrors>(&r)) return e->lines;
  return {};
}

Prefix P(std::string_view s) {
  auto p = Prefix::Parse(s);
  EXPECT_TRUE(p.has_value()) << s;
  return p.value_or(Prefix{});
}

// ---- Value syntax -------------------------------------------------------------------------

TEST(ConfigValues, Sizes) {
  struct Case {
    const char* text;
    std::uint64_t bytes;
  } cases[] = {
      {"0", 0},
      {"512", 512},
      {"512B", 512},
      {"1KB", 1000},
      {"1KiB", 1024},
      {"64MiB", 64ull * 1024 * 1024},
      {"16GB", 16'000'000'000ull},
      {"1GiB", 1073741824ull},
      {"141GiB", 141ull * 1073741824ull},
      {"10TB", 10'000'000'000'000ull},
      {"1TiB", 1099511627776ull},
      {"1PB", 1'000'000'000'000'000ull},
      {"1PiB", 1125899906842624ull},
      {"1.5TB", 1'500'000'000'000ull},
      {"0.5KiB", 512},
      {"16383PiB", 16383ull * 1125899906842624ull},
      {"18446744073709551615", 18446744073709551615ull},
  };
  for (const Case& c : cases) {
    std::uint64_t v = 1;
    EXPECT_EQ(ParseSize(c.text, &v), "") << c.text;
    EXPECT_EQ(v, c.bytes) << c.text;
  }
  for (const char* bad :
       {"", "G", "16 G", "16G", "16gb", "16 GB", "1.5B", "0.0001KB", "16384PiB",
        "18446744073709551616", "-1", "+1", "1e9", "5.", ".5GB", "1GiB ", " 1GiB", "1,000"}) {
    std::uint64_t v = 7;
    EXPECT_NE(ParseSize(bad, &v), "") << bad;
    EXPECT_EQ(v, 7u) << bad;
  }
  std::uint64_t v = 0;
  EXPECT_EQ(ParseSize("16 G", &v), "\"16 G\" is not a size (try 16GB or 16GiB)");
}

TEST(ConfigValues, Durations) {
  struct Case {
    const char* text;
    std::int64_t ns;
  } cases[] = {
      {"1ns", 1},
      {"250us", 250'000},
      {"500ms", 500'000'000},
      {"60s", 60'000'000'000},
      {"10m", 600'000'000'000},
      {"1h", 3'600'000'000'000},
      {"24h", 86'400'000'000'000},
      {"7d", 604'800'000'000'000},
      {"30d", 2'592'000'000'000'000},
      {"1.5s", 1'500'000'000},
      {"0s", 0},
  };
  for (const Case& c : cases) {
    std::int64_t v = -1;
    EXPECT_EQ(ParseDuration(c.text, &v), "") << c.text;
    EXPECT_EQ(v, c.ns) << c.text;
  }
  for (const char* bad : {"", "60", "10 m", "10M", "1w", "-1s", "1.5ns", "106752d", "s", "1h30m"}) {
    std::int64_t v = 7;
    EXPECT_NE(ParseDuration(bad, &v), "") << bad;
    EXPECT_EQ(v, 7) << bad;
  }
}

TEST(ConfigValues, Percentages) {
  std::uint32_t bp = 0;
  EXPECT_EQ(ParsePercent("2%", &bp), "");
  EXPECT_EQ(bp, 200u);
  EXPECT_EQ(ParsePercent("0.5%", &bp), "");
  EXPECT_EQ(bp, 50u);
  EXPECT_EQ(ParsePercent("2.05%", &bp), "");
  EXPECT_EQ(bp, 205u);
  EXPECT_EQ(ParsePercent("100%", &bp), "");
  EXPECT_EQ(bp, 10000u);
  for (const char* bad : {"2", "0.02", "2 %", "%", "2.001%", "101%", "-1%", "2%%"}) {
    EXPECT_NE(ParsePercent(bad, &bp), "") << bad;
  }
}

TEST(ConfigValues, FormatRoundTrips) {
  for (std::uint64_t b : {0ull, 1ull, 512ull, 1000ull, 1024ull, 1ull << 30, 10'000'000'000'000ull,
                          1'500'000'000'000ull, 1'000'000'000'000'000ull, 123456789ull}) {
    std::uint64_t back = 0;
    EXPECT_EQ(ParseSize(FormatSize(b), &back), "") << FormatSize(b);
    EXPECT_EQ(back, b);
  }
  EXPECT_EQ(FormatSize(1ull << 30), "1GiB");
  EXPECT_EQ(FormatSize(10'000'000'000'000ull), "10TB");
  EXPECT_EQ(FormatDuration(600'000'000'000), "10m");
  EXPECT_EQ(FormatDuration(90'000'000'000), "90s");
  EXPECT_EQ(FormatPercent(200), "2%");
  EXPECT_EQ(FormatPercent(250), "2.5%");
  EXPECT_EQ(FormatPercent(205), "2.05%");
}

TEST(ConfigValues, ListenAddresses) {
  ListenAddress a;
  ASSERT_TRUE(ListenAddress::Parse("127.0.0.1:9477", &a));
  EXPECT_EQ(a.address, IpAddress::V4(0x7f000001));
  EXPECT_EQ(a.port, 9477);
  ASSERT_TRUE(ListenAddress::Parse("[::1]:9477", &a));
  EXPECT_FALSE(a.address.IsV4());
  EXPECT_EQ(a.ToString(), "[::1]:9477");
  ASSERT_TRUE(ListenAddress::Parse("0.0.0.0:6343", &a));
  for (const char* bad : {"", "127.0.0.1", ":9477", "localhost:9477", "::1:9477", "[::1]",
                          "[127.0.0.1]:80", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:+80",
                          "127.0.0.1:080x", "[::1]:", "1.2.3.4:123456"}) {
    EXPECT_FALSE(ListenAddress::Parse(bad, &a)) << bad;
  }
}

// ---- Good configs -------------------------------------------------------------------------

TEST(ConfigLoad, EmptyAndBracesAreDefaults) {
  EXPECT_EQ(MustLoad(""), DefaultConfig());
  EXPECT_EQ(MustLoad("{}"), DefaultConfig());
  EXPECT_EQ(MustLoad("# only a comment\n"), DefaultConfig());
  EXPECT_EQ(MustLoad("site:\npipeline: {}\n"), DefaultConfig());
  // The one note the defaults earn: no site prefixes yet.
  ASSERT_EQ(DefaultConfig().notes.size(), 1u);
  EXPECT_NE(DefaultConfig().notes[0].find("site.inside: empty"), std::string::npos);
}

TEST(ConfigLoad, DefaultsAreTheDocumentedOnes) {
  // Hand-written from the contract (ARCHITECTURE.md "Config"), not from the code under test.
  const Config c = DefaultConfig();
  EXPECT_TRUE(c.site.inside.empty());  // the contract's prefixes are an example, not a guess
  EXPECT_TRUE(c.site.tenants.empty());
  EXPECT_EQ(c.pipeline.workers, 2u);
  EXPECT_EQ(c.pipeline.flow_capacity, 1'000'000u);
  EXPECT_EQ(c.pipeline.idle_timeout_ns, 60'000'000'000);
  EXPECT_EQ(c.pipeline.active_timeout_ns, 60'000'000'000);
  EXPECT_EQ(c.decode.tunnels, capture::TunnelMode::kInner);
  EXPECT_EQ(c.detect.weight_transfer.min_size_bytes, 1073741824u);
  EXPECT_EQ(c.detect.weight_transfer.gap_ns, 600'000'000'000);
  EXPECT_EQ(c.detect.weight_transfer.external_group.ipv4_prefix_len, 24);
  EXPECT_EQ(c.detect.weight_transfer.external_group.ipv6_prefix_len, 48);
  EXPECT_EQ(c.detect.weight_transfer.tolerance_basis_points, 200u);
  EXPECT_EQ(c.detect.weight_transfer.catalog, "config/models.yaml");
  ASSERT_EQ(c.detect.ingest.windows.size(), 3u);
  EXPECT_EQ(c.detect.ingest.windows[2].window_ns, 7 * 86'400'000'000'000);
  EXPECT_EQ(c.detect.ingest.windows[2].threshold_bytes, 1'000'000'000'000'000u);
  EXPECT_EQ(c.detect.staging.window_ns, 3'600'000'000'000);
  EXPECT_EQ(c.detect.staging.threshold_bytes, 10'000'000'000'000u);
  EXPECT_EQ(c.detect.train_and_return.within_ns, 30 * 86'400'000'000'000);
  EXPECT_EQ(c.history.path, "");
  EXPECT_EQ(c.history.retention_ns, 90 * 86'400'000'000'000);
  EXPECT_EQ(c.metrics.listen.ToString(), "127.0.0.1:9477");
  EXPECT_TRUE(c.capture.empty());
}

TEST(ConfigLoad, ShippedFileEqualsDefaults) {
  const std::string path = std::string(WB_SOURCE_DIR) + "/config/weighbridge.yaml";
  auto r = LoadConfigFile(path);
  if (auto* e = std::get_if<ConfigErrors>(&r)) {
    for (const auto& l : e->lines) ADD_FAILURE() << l;
    return;
  }
  const Config& c = std::get<Config>(r);
  const Config d = DefaultConfig();
  // Section by section first, so that a mismatch names the section.
  EXPECT_EQ(c.site, d.site);
  EXPECT_EQ(c.capture, d.capture);
  EXPECT_EQ(c.pipeline, d.pipeline);
  EXPECT_EQ(c.decode, d.decode);
  EXPECT_EQ(c.detect.weight_transfer, d.detect.weight_transfer);
  EXPECT_EQ(c.detect.ingest, d.detect.ingest);
  EXPECT_EQ(c.detect.staging, d.detect.staging);
  EXPECT_EQ(c.detect.train_and_return, d.detect.train_and_return);
  EXPECT_EQ(c.detect.allow, d.detect.allow);
  EXPECT_EQ(c.history, d.history);
  EXPECT_EQ(c.metrics, d.metrics);
  EXPECT_EQ(c.alerts, d.alerts);
  EXPECT_EQ(c.notes, d.notes);
  EXPECT_EQ(c, d);
}

constexpr char kFull[] = R"(site:
  inside: [10.0.0.0/8, 2001:db8:100::/48, 192.168.0.0/16]
  tenants:
    - {name: research, prefixes: [10.30.0.0/16, "2001:db8:100:30::/64"]}
    - name: "prod \"a\""
      prefixes: [192.168.1.0/24]
capture:
  - {type: pcap, interface: eth1, snaplen: 256, buffer: 128MiB, filter: "tcp[13] & 2 != 0",
     promiscuous: false, timeout: 5ms}
  - {type: dpdk, eal: [-l, "1-2", -a, "0000:3b:00.0"], ports: [0, 1], queues: 2}
  - {type: synth, scenario: edge-mix, seed: 42}
  - {type: sflow, listen: 0.0.0.0:6343, exporters: [192.0.2.1/32]}
  - {type: ipfix, listen: "[::]:4739", exporters: [192.0.2.0/28, "2001:db8::/32"]}
  - {type: netflow, listen: 127.0.0.1:2055, exporters: [192.0.2.7]}
pipeline: {workers: 4, flow_capacity: 2048, idle_timeout: 30s, active_timeout: 5m}
decode: {tunnels: outer, fragment_table_entries: 5000, fragment_timeout: 1500ms}
detect:
  weight_transfer:
    min_size: 16GB
    gap: 90s
    external_group: {ipv4_prefix: 16, ipv6_prefix: 64}
    tolerance: 0.25%
    catalog: /etc/weighbridge/models.yaml
  ingest:
    external_group: {ipv4_prefix: 20, ipv6_prefix: 40}
    windows: [{window: 30m, threshold: 1.5TB}, {window: 2d, threshold: 1PiB}]
  staging: {window: 2h, threshold: 500GiB, storage: [10.20.0.0/24], baseline: 3d, baseline_max: 2TB}
  train_and_return: {within: 14d}
  sensitive: {tenants: [research], prefixes: [192.0.2.0/24, "2001:db8:f00::/48"]}
  allow:
    - {name: backup-partner, prefixes: [198.51.100.0/24], directions: [outbound]}
    - {name: mirror, prefixes: ["2001:db8:ffff::/48"]}
  peer_groups:
    - {name: example-lab, prefixes: [192.0.2.0/24, "2001:db8:f00::/48"]}
history: {path: /var/lib/weighbridge, retention: 365d, sync: interval, sync_interval: 250ms,
          size_budget: 500GiB, alerts_retention: 730d}
metrics: {listen: "[::1]:9100", health_listen: "127.0.0.1:9101", top_k: 50}
alerts:
  log: /var/log/weighbridge/alerts.jsonl
  webhooks:
    - name: soc
      url: https://hooks.example.com/wb?x=1
      secret_file: /etc/weighbridge/soc.secret
      headers: {X-Team: netsec, X-Empty: ""}
      timeout: 3s
    - {name: ops, url: "http://127.0.0.1:8080/hook", secret_env: WB_OPS_SECRET}
  alertmanager:
    - {url: "http://127.0.0.1:9093"}
    - {url: "https://am.example.com", timeout: 1m, ca_file: /etc/weighbridge/am-ca.pem}
  retry: {initial_backoff: 2s, max_backoff: 10m, max_age: 2d}
  sensor: edge-7
export:
  ipfix:
    - {collector: "192.0.2.5:4739", observation_domain: 4294967295, max_message_bytes: 9000}
    - {collector: "[2001:db8::5]:9995", template_refresh: 1}
)";

TEST(ConfigLoad, FullConfigParsesEveryKey) {
  const Config c = MustLoad(kFull);
  ASSERT_EQ(c.site.inside.size(), 3u);
  ASSERT_EQ(c.site.tenants.size(), 2u);
  EXPECT_EQ(c.site.tenants[0].name, "research");
  EXPECT_EQ(c.site.tenants[0].prefixes[1], P("2001:db8:100:30::/64"));
  EXPECT_EQ(c.site.tenants[1].name, "prod \"a\"");
  ASSERT_EQ(c.capture.size(), 6u);
  EXPECT_EQ(c.capture[0].type, CaptureType::kPcap);
  EXPECT_EQ(c.capture[0].pcap.interface, "eth1");
  EXPECT_EQ(c.capture[0].pcap.snaplen, 256u);
  EXPECT_EQ(c.capture[0].pcap.buffer_bytes, 128ull << 20);
  EXPECT_EQ(c.capture[0].pcap.filter, "tcp[13] & 2 != 0");
  EXPECT_FALSE(c.capture[0].pcap.promiscuous);
  EXPECT_EQ(c.capture[0].pcap.timeout_ms, 5);
  EXPECT_EQ(c.capture[1].type, CaptureType::kDpdk);
  EXPECT_EQ(c.capture[1].dpdk.eal, (std::vector<std::string>{"-l", "1-2", "-a", "0000:3b:00.0"}));
  EXPECT_EQ(c.capture[1].dpdk.ports, (std::vector<std::uint16_t>{0, 1}));
  EXPECT_EQ(c.capture[1].dpdk.queues, 2);
  EXPECT_EQ(c.capture[2].synth.scenario, "edge-mix");
  EXPECT_EQ(c.capture[2].synth.seed, 42u);
  EXPECT_EQ(c.capture[3].type, CaptureType::kSflow);
  EXPECT_EQ(c.capture[3].flow.listen.port, 6343);
  EXPECT_EQ(c.capture[4].type, CaptureType::kIpfix);
  EXPECT_EQ(c.capture[4].flow.listen.ToString(), "[::]:4739");
  EXPECT_EQ(c.capture[4].flow.exporters.size(), 2u);
  EXPECT_EQ(c.capture[5].type, CaptureType::kNetflow);
  EXPECT_EQ(c.capture[5].flow.exporters[0], P("192.0.2.7/32"));
  EXPECT_EQ(c.pipeline.workers, 4u);
  EXPECT_EQ(c.pipeline.flow_capacity, 2048u);
  EXPECT_EQ(c.pipeline.idle_timeout_ns, 30'000'000'000);
  EXPECT_EQ(c.pipeline.active_timeout_ns, 300'000'000'000);
  EXPECT_EQ(c.decode.tunnels, capture::TunnelMode::kOuter);
  EXPECT_EQ(c.decode.fragment_table_entries, 5000u);
  EXPECT_EQ(c.decode.fragment_timeout.ns, 1'500'000'000);
  ASSERT_EQ(c.notes.size(), 1u);  // 5000 fragment slots become 8192
  EXPECT_NE(c.notes[0].find("decode.fragment_table_entries"), std::string::npos);
  EXPECT_NE(c.notes[0].find("8192"), std::string::npos);
  const auto& w = c.detect.weight_transfer;
  EXPECT_EQ(w.min_size_bytes, 16'000'000'000u);
  EXPECT_EQ(w.gap_ns, 90'000'000'000);
  EXPECT_EQ(w.external_group.ipv4_prefix_len, 16);
  EXPECT_EQ(w.external_group.ipv6_prefix_len, 64);
  EXPECT_EQ(w.tolerance_basis_points, 25u);
  EXPECT_EQ(w.catalog, "/etc/weighbridge/models.yaml");
  EXPECT_EQ(c.detect.ingest.external_group.ipv4_prefix_len, 20);
  ASSERT_EQ(c.detect.ingest.windows.size(), 2u);
  EXPECT_EQ(c.detect.ingest.windows[0].window_ns, 1'800'000'000'000);
  EXPECT_EQ(c.detect.ingest.windows[0].threshold_bytes, 1'500'000'000'000u);
  EXPECT_EQ(c.detect.ingest.windows[1].threshold_bytes, 1ull << 50);
  EXPECT_EQ(c.detect.staging.window_ns, 7'200'000'000'000);
  EXPECT_EQ(c.detect.staging.threshold_bytes, 500ull << 30);
  EXPECT_EQ(c.detect.staging.storage, std::vector<Prefix>{P("10.20.0.0/24")});
  EXPECT_EQ(c.detect.staging.baseline_ns, 3 * 86'400'000'000'000LL);
  EXPECT_EQ(c.detect.staging.baseline_max_bytes, 2'000'000'000'000ull);
  EXPECT_EQ(c.detect.sensitive.tenants, std::vector<std::string>{"research"});
  EXPECT_EQ(c.detect.sensitive.prefixes.size(), 2u);
  EXPECT_EQ(c.detect.train_and_return.within_ns, 14 * 86'400'000'000'000);
  ASSERT_EQ(c.detect.allow.size(), 2u);
  EXPECT_EQ(c.detect.allow[0].directions,
            std::vector<capture::Direction>{capture::Direction::kOutbound});
  EXPECT_EQ(c.detect.allow[1].directions.size(), 4u);  // all, by default
  EXPECT_EQ(c.history.path, "/var/lib/weighbridge");
  EXPECT_EQ(c.history.retention_ns, 365 * 86'400'000'000'000);
  EXPECT_EQ(c.metrics.listen.ToString(), "[::1]:9100");
  EXPECT_EQ(c.metrics.health_listen.ToString(), "127.0.0.1:9101");
  ASSERT_EQ(c.detect.peer_groups.size(), 1u);
  EXPECT_EQ(c.detect.peer_groups[0].name, "example-lab");
  EXPECT_EQ(c.detect.peer_groups[0].prefixes.size(), 2u);
  EXPECT_EQ(c.alerts.log_path, "/var/log/weighbridge/alerts.jsonl");
  ASSERT_EQ(c.alerts.webhooks.size(), 2u);
  EXPECT_EQ(c.alerts.webhooks[0].url, "https://hooks.example.com/wb?x=1");
  EXPECT_EQ(c.alerts.webhooks[0].secret_file, "/etc/weighbridge/soc.secret");
  EXPECT_EQ(c.alerts.webhooks[0].headers.at("X-Team"), "netsec");
  EXPECT_EQ(c.alerts.webhooks[0].headers.at("X-Empty"), "");
  EXPECT_EQ(c.alerts.webhooks[0].timeout_ns, 3'000'000'000);
  EXPECT_EQ(c.alerts.webhooks[1].secret_env, "WB_OPS_SECRET");
  EXPECT_EQ(c.alerts.webhooks[1].timeout_ns, 10'000'000'000);
  ASSERT_EQ(c.alerts.alertmanager.size(), 2u);
  EXPECT_EQ(c.alerts.alertmanager[1].timeout_ns, 60'000'000'000);
  EXPECT_EQ(c.alerts.alertmanager[1].ca_file, "/etc/weighbridge/am-ca.pem");
  EXPECT_EQ(c.alerts.retry.max_age_ns, 2 * 86'400'000'000'000);
  EXPECT_EQ(c.alerts.sensor, "edge-7");
  EXPECT_EQ(c.history.sync, "interval");
  EXPECT_EQ(c.history.sync_interval_ns, 250'000'000);
  EXPECT_EQ(c.history.size_budget_bytes, 500ull << 30);
  EXPECT_EQ(c.history.alerts_retention_ns, 730 * 86'400'000'000'000);
  EXPECT_EQ(c.metrics.top_k, 50u);
  ASSERT_EQ(c.flow_export.ipfix.size(), 2u);
  EXPECT_EQ(c.flow_export.ipfix[0].collector.ToString(), "192.0.2.5:4739");
  EXPECT_EQ(c.flow_export.ipfix[0].observation_domain, 4294967295u);
  EXPECT_EQ(c.flow_export.ipfix[0].max_message_bytes, 9000u);
  EXPECT_EQ(c.flow_export.ipfix[0].template_refresh, 16u);  // default
  EXPECT_EQ(c.flow_export.ipfix[1].collector.ToString(), "[2001:db8::5]:9995");
  EXPECT_EQ(c.flow_export.ipfix[1].observation_domain, 1u);
  EXPECT_EQ(c.flow_export.ipfix[1].template_refresh, 1u);
}

TEST(ConfigLoad, BlockAndFlowStylesAgree) {
  EXPECT_EQ(MustLoad("pipeline: {workers: 3}\n"), MustLoad("pipeline:\n  workers: 3\n"));
  EXPECT_EQ(MustLoad("site: {inside: [10.0.0.0/8]}\n"),
            MustLoad("site:\n  inside:\n    - 10.0.0.0/8\n"));
  EXPECT_EQ(MustLoad("metrics: {listen: \"127.0.0.1:9477\"}"), DefaultConfig());
}

TEST(ConfigExplain, RoundTripsDefaultAndFull) {
  for (const std::string_view text : {std::string_view(""), std::string_view(kFull)}) {
    const Config c = MustLoad(text);
    const std::string explained = ExplainConfig(c);
    EXPECT_EQ(MustLoad(explained), c) << explained;
  }
  const Config full = MustLoad(kFull);
  const std::string explained = ExplainConfig(full);
  EXPECT_NE(explained.find("# note: decode.fragment_table_entries"), std::string::npos);
  EXPECT_NE(explained.find("min_size: 16GB"), std::string::npos);
  EXPECT_NE(explained.find("tolerance: 0.25%"), std::string::npos);
  EXPECT_NE(ExplainConfig(DefaultConfig()).find("listen: \"127.0.0.1:9477\""), std::string::npos);
}

TEST(ConfigLoad, SiteClassifier) {
  const capture::SiteClassifier s(MustLoad(kFull).site);
  EXPECT_TRUE(s.IsInside(IpAddress::V4(0x0a1e0001)));  // 10.30.0.1
  EXPECT_EQ(s.TenantOf(IpAddress::V4(0x0a1e0001)), 1);
  EXPECT_FALSE(s.IsInside(IpAddress::V4(0xc0000201)));  // 192.0.2.1
}

// ---- Bad configs: one case per key ---------------------------------------------------------

struct BadCase {
  const char* yaml;
  const char* path;  // the key path the error line must name
  int line;          // 1-based line the error must point at
  const char* what;  // a fragment of the message
};

// Each input has exactly one problem. Line numbers are counted by hand from the text.
const BadCase kBadCases[] = {
    // top level
    {"sitee: {}\n", "sitee", 1, "unknown key"},
    {"pipeline: {}\npipeline: {}\n", "pipeline", 2, "duplicate key"},
    {"- a\n- b\n", "(top level)", 1, "expected a mapping"},
    {"42\n", "(top level)", 1, "expected a mapping"},
    // site
    {"site: {insides: []}\n", "site.insides", 1, "unknown key"},
    {"site:\n  inside: [10.0.0.1/8]\n", "site.inside[0]", 2, "host bits"},
    {"site:\n  inside: 10.0.0.0/8\n", "site.inside", 2, "expected a list"},
    {"site:\n  inside: [10.0.0.0/-0]\n", "site.inside[0]", 2, "prefix length"},
    {"site:\n  inside: [10.0.0.0/33]\n", "site.inside[0]", 2, "prefix length"},
    {"site:\n  inside: [10.0.0.0/8]\n  tenants:\n    - {prefixes: [10.1.0.0/16]}\n",
     "site.tenants[0].name", 4, "required"},
    {"site:\n  inside: [10.0.0.0/8]\n  tenants:\n    - {name: a}\n", "site.tenants[0].prefixes", 4,
     "required"},
    {"site:\n  inside: [10.0.0.0/8]\n  tenants:\n    - {name: a, prefixes: [11.0.0.0/16]}\n",
     "site.tenants[0].prefixes[0]", 4, "not inside site.inside"},
    {"site:\n  inside: [10.0.0.0/8]\n  tenants:\n    - {name: a, prefixes: [10.1.0.0/16]}\n"
     "    - {name: a, prefixes: [10.2.0.0/16]}\n",
     "site.tenants[1].name", 5, "earlier tenant"},
    {"site:\n  inside: [10.0.0.0/8]\n  tenants:\n    - {name: a, prefixes: [10.1.0.0/16], owner: "
     "x}\n",
     "site.tenants[0].owner", 4, "unknown key"},
    {"site:\n  inside: [10.0.0.0/8]\n  tenants:\n    - {name: \"\", prefixes: [10.1.0.0/16]}\n",
     "site.tenants[0].name", 4, "must not be empty"},
    // capture
    {"capture: {type: pcap}\n", "capture", 1, "expected a list"},
    {"capture:\n  - {interface: eth0}\n", "capture[0].type", 2, "required"},
    {"capture:\n  - {type: pcapng, interface: eth0}\n", "capture[0].type", 2, "not a source type"},
    {"capture:\n  - {type: pcap}\n", "capture[0].interface", 2, "required"},
    {"capture:\n  - {type: pcap, interface: eth0, ports: [0]}\n", "capture[0].ports", 2,
     "not a key of a pcap source"},
    {"capture:\n  - {type: pcap, interface: eth0, speed: 1}\n", "capture[0].speed", 2,
     "unknown key"},
    {"capture:\n  - {type: pcap, interface: eth0, snaplen: 32}\n", "capture[0].snaplen", 2,
     "out of range"},
    {"capture:\n  - {type: pcap, interface: eth0, snaplen: 1.5}\n", "capture[0].snaplen", 2,
     "not a whole number"},
    {"capture:\n  - {type: pcap, interface: eth0, buffer: 64 MiB}\n", "capture[0].buffer", 2,
     "not a size"},
    {"capture:\n  - {type: pcap, interface: eth0, buffer: 2GiB}\n", "capture[0].buffer", 2,
     "out of range"},
    {"capture:\n  - {type: pcap, interface: eth0, promiscuous: yes}\n", "capture[0].promiscuous", 2,
     "not a boolean"},
    {"capture:\n  - {type: pcap, interface: eth0, timeout: 1500us}\n", "capture[0].timeout", 2,
     "whole number of milliseconds"},
    {"capture:\n  - {type: pcap, interface: eth0, filter: [tcp]}\n", "capture[0].filter", 2,
     "expected a single value"},
    {"capture:\n  - {type: pcap, interface: eth0}\n  - {type: pcap, interface: eth0}\n",
     "capture[1]", 3, "used by an earlier source"},
    {"capture:\n  - {type: dpdk}\n", "capture[0].ports", 2, "required"},
    {"capture:\n  - {type: dpdk, ports: []}\n", "capture[0].ports", 2, "must not be empty"},
    {"capture:\n  - {type: dpdk, ports: [0, 0]}\n", "capture[0].ports[1]", 2, "listed twice"},
    {"capture:\n  - {type: dpdk, ports: [65536]}\n", "capture[0].ports[0]", 2, "out of range"},
    {"capture:\n  - {type: dpdk, ports: [0], queues: 0}\n", "capture[0].queues", 2, "out of range"},
    {"capture:\n  - {type: dpdk, ports: [0], eal: -l}\n", "capture[0].eal", 2, "expected a list"},
    {"capture:\n  - {type: synth}\n", "capture[0].scenario", 2, "required"},
    {"capture:\n  - {type: synth, scenario: x, seed: -1}\n", "capture[0].seed", 2,
     "not a whole number"},
    {"capture:\n  - {type: sflow, exporters: [192.0.2.1/32]}\n", "capture[0].listen", 2,
     "required"},
    {"capture:\n  - {type: sflow, listen: 0.0.0.0:6343}\n", "capture[0].exporters", 2, "required"},
    {"capture:\n  - {type: ipfix, listen: 0.0.0.0:4739, exporters: []}\n", "capture[0].exporters",
     2, "must not be empty"},
    {"capture:\n  - {type: netflow, listen: \"0.0.0.0\", exporters: [192.0.2.1]}\n",
     "capture[0].listen", 2, "not a listen address"},
    {"capture:\n  - {type: sflow, listen: 0.0.0.0:6343, exporters: [192.0.2.1/24]}\n",
     "capture[0].exporters[0]", 2, "host bits"},
    // pipeline
    {"pipeline:\n  workers: 0\n", "pipeline.workers", 2, "out of range"},
    {"pipeline:\n  workers: 65\n", "pipeline.workers", 2, "out of range"},
    {"pipeline:\n  workers: two\n", "pipeline.workers", 2, "not a whole number"},
    {"pipeline:\n  flow_capacity: 1023\n", "pipeline.flow_capacity", 2, "out of range"},
    {"pipeline:\n  idle_timeout: 60\n", "pipeline.idle_timeout", 2, "no unit"},
    {"pipeline:\n  active_timeout: 0s\n", "pipeline.active_timeout", 2, "out of range"},
    {"pipeline:\n  threads: 2\n", "pipeline.threads", 2, "unknown key"},
    {"pipeline: 4\n", "pipeline", 1, "expected a mapping"},
    // decode
    {"decode:\n  tunnels: innermost\n", "decode.tunnels", 2, "inner or outer"},
    {"decode:\n  fragment_table_entries: 0\n", "decode.fragment_table_entries", 2, "out of range"},
    {"decode:\n  fragment_timeout: 2h\n", "decode.fragment_timeout", 2, "out of range"},
    // detect
    {"detect:\n  weight:\n", "detect.weight", 2, "unknown key"},
    {"detect:\n  weight_transfer:\n    min_size: 16 G\n", "detect.weight_transfer.min_size", 3,
     "\"16 G\" is not a size (try 16GB or 16GiB)"},
    {"detect:\n  weight_transfer:\n    min_size: 0\n", "detect.weight_transfer.min_size", 3,
     "out of range"},
    {"detect:\n  weight_transfer:\n    min_size:\n", "detect.weight_transfer.min_size", 3,
     "missing value"},
    {"detect:\n  weight_transfer:\n    gap: 10min\n", "detect.weight_transfer.gap", 3,
     "not a duration"},
    {"detect:\n  weight_transfer:\n    external_group: {ipv4_prefix: 33}\n",
     "detect.weight_transfer.external_group.ipv4_prefix", 3, "out of range"},
    {"detect:\n  weight_transfer:\n    external_group: {ipv6_prefix: 0}\n",
     "detect.weight_transfer.external_group.ipv6_prefix", 3, "out of range"},
    {"detect:\n  weight_transfer:\n    external_group: {ipv4: 24}\n",
     "detect.weight_transfer.external_group.ipv4", 3, "unknown key"},
    {"detect:\n  weight_transfer:\n    tolerance: 2\n", "detect.weight_transfer.tolerance", 3,
     "no % sign"},
    {"detect:\n  weight_transfer:\n    tolerance: 0%\n", "detect.weight_transfer.tolerance", 3,
     "out of range"},
    {"detect:\n  weight_transfer:\n    catalog: \"\"\n", "detect.weight_transfer.catalog", 3,
     "must not be empty"},
    {"detect:\n  ingest:\n    external_group: {ipv4_prefix: x}\n",
     "detect.ingest.external_group.ipv4_prefix", 3, "not a whole number"},
    {"detect:\n  ingest:\n    windows: [{window: 1h}]\n", "detect.ingest.windows[0].threshold", 3,
     "required"},
    {"detect:\n  ingest:\n    windows: [{threshold: 1TB}]\n", "detect.ingest.windows[0].window", 3,
     "required"},
    {"detect:\n  ingest:\n    windows:\n      - {window: 1h, threshold: 0B}\n",
     "detect.ingest.windows[0].threshold", 4, "out of range"},
    {"detect:\n  ingest:\n    windows:\n      - {window: 24h, threshold: 1TB}\n"
     "      - {window: 1h, threshold: 2TB}\n",
     "detect.ingest.windows[1].window", 5, "not longer than the window before it"},
    {"detect:\n  ingest:\n    windows: [{window: 1h, threshold: 1TB, by: host}]\n",
     "detect.ingest.windows[0].by", 3, "unknown key"},
    {"detect:\n  staging:\n    window: 0s\n", "detect.staging.window", 3, "out of range"},
    {"detect:\n  staging:\n    threshold: 10XB\n", "detect.staging.threshold", 3, "not a size"},
    {"detect:\n  staging:\n    baseline: 7\n", "detect.staging.baseline", 3, "no unit"},
    {"detect:\n  staging:\n    baseline_max: 1 TB\n", "detect.staging.baseline_max", 3,
     "not a size"},
    {"site:\n  inside: [10.0.0.0/8]\n  tenants: [{name: research, prefixes: [10.30.0.0/16]}]\n"
     "detect:\n  sensitive:\n    tenants: [research, vision]\n",
     "detect.sensitive.tenants[1]", 6, "not a tenant"},
    {"detect:\n  sensitive:\n    prefixes: [192.0.2.1/24]\n", "detect.sensitive.prefixes[0]", 3,
     "host bits"},
    {"detect:\n  sensitive:\n    owners: []\n", "detect.sensitive.owners", 3, "unknown key"},
    {"detect:\n  staging:\n    storage: [192.168.0.0/24]\n", "detect.staging.storage[0]", 3,
     "not inside site.inside"},
    {"detect:\n  train_and_return: {within: 30 days}\n", "detect.train_and_return.within", 2,
     "not a duration"},
    {"detect:\n  allow:\n    - {prefixes: [198.51.100.0/24]}\n", "detect.allow[0].name", 3,
     "required"},
    {"detect:\n  allow:\n    - {name: x}\n", "detect.allow[0].prefixes", 3, "required"},
    {"detect:\n  allow:\n    - {name: x, prefixes: [198.51.100.0/24], directions: [egress]}\n",
     "detect.allow[0].directions[0]", 3, "not a direction"},
    {"detect:\n  allow:\n    - {name: x, prefixes: [198.51.100.0/24], directions: []}\n",
     "detect.allow[0].directions", 3, "must not be empty"},
    {"detect:\n  allow:\n    - {name: x, prefixes: [198.51.100.0/24]}\n"
     "    - {name: x, prefixes: [203.0.113.0/24]}\n",
     "detect.allow[1].name", 4, "earlier rule"},
    {"detect:\n  peer_groups:\n    - {prefixes: [198.51.100.0/24]}\n", "detect.peer_groups[0].name",
     3, "required"},
    {"site:\n  inside: [10.0.0.0/8]\ndetect:\n  peer_groups:\n    - {name: x, prefixes: "
     "[10.1.0.0/16]}\n",
     "detect.peer_groups[0].prefixes", 5, "overlaps site.inside"},
    {"detect:\n  peer_groups:\n    - {name: x, prefixes: [198.51.100.0/24]}\n"
     "    - {name: x, prefixes: [203.0.113.0/24]}\n",
     "detect.peer_groups[1].name", 4, "earlier group"},
    // history, metrics, daemon
    {"metrics:\n  listen: 127.0.0.1:9100\n  health_listen: 127.0.0.1:9100\n",
     "metrics.health_listen", 3, "same address"},
    {"daemon:\n  log_format: xml\n", "daemon.log_format", 2, "not a log format"},
    {"history:\n  sync: always\n", "history.sync", 2, "not a sync policy"},
    {"alerts:\n  retry: {initial_backoff: 1m, max_backoff: 1s}\n", "alerts.retry.max_backoff", 2,
     "shorter than initial_backoff"},
    {"metrics:\n  top_k: 0\n", "metrics.top_k", 2, "out of range"},
    {"daemon:\n  log_level: loud\n", "daemon.log_level", 2, "not a log level"},
    {"daemon:\n  stats_interval: 0s\n", "daemon.stats_interval", 2, "out of range"},
    {"history:\n  path: [a]\n", "history.path", 2, "expected a single value"},
    {"history:\n  retention: 1m\n", "history.retention", 2, "out of range"},
    {"history:\n  dir: /x\n", "history.dir", 2, "unknown key"},
    {"metrics:\n  listen: localhost:9477\n", "metrics.listen", 2, "not a listen address"},
    {"metrics:\n  listen: \"[::1]:0\"\n", "metrics.listen", 2, "not a listen address"},
    {"metrics:\n  port: 9477\n", "metrics.port", 2, "unknown key"},
    // alerts
    {"alerts:\n  log: {path: x}\n", "alerts.log", 2, "expected a single value"},
    {"alerts:\n  webhooks:\n    - {url: \"https://h.example/x\", secret_env: S}\n",
     "alerts.webhooks[0].name", 3, "required"},
    {"alerts:\n  webhooks:\n    - {name: a, secret_env: S}\n", "alerts.webhooks[0].url", 3,
     "required"},
    {"alerts:\n  webhooks:\n    - {name: a, url: \"ftp://h.example/x\", secret_env: S}\n",
     "alerts.webhooks[0].url", 3, "not an http"},
    {"alerts:\n  webhooks:\n    - {name: a, url: \"https://u:p@h.example/\", secret_env: S}\n",
     "alerts.webhooks[0].url", 3, "credentials"},
    {"alerts:\n  webhooks:\n    - {name: a, url: \"https://h.example/\"}\n",
     "alerts.webhooks[0].secret_file", 3, "secret_env"},
    {"alerts:\n  webhooks:\n    - {name: a, url: \"https://h.example/\", secret_env: S,\n"
     "       secret_file: /f}\n",
     "alerts.webhooks[0].secret_file", 3, "only one"},
    {"alerts:\n  webhooks:\n    - {name: a, url: \"https://h.example/\", secret_env: 1X}\n",
     "alerts.webhooks[0].secret_env", 3, "not an environment variable name"},
    {"alerts:\n  webhooks:\n    - {name: a, url: \"https://h.example/\", secret: abc, secret_env: "
     "S}\n",
     "alerts.webhooks[0].secret", 3, "unknown key"},
    {"alerts:\n  webhooks:\n    - name: a\n      url: \"https://h.example/\"\n"
     "      secret_env: S\n      headers: {Authorization: Bearer x}\n",
     "alerts.webhooks[0].headers.Authorization", 6, "credential"},
    {"alerts:\n  webhooks:\n    - name: a\n      url: \"https://h.example/\"\n"
     "      secret_env: S\n      headers: {Idempotency-Key: x}\n",
     "alerts.webhooks[0].headers.Idempotency-Key", 6, "set by weighbridge"},
    {"alerts:\n  webhooks:\n    - name: a\n      url: \"https://h.example/\"\n"
     "      secret_env: S\n      headers: {\"X A\": x}\n",
     "alerts.webhooks[0].headers.X A", 6, "not an HTTP header name"},
    {"alerts:\n  webhooks:\n    - name: a\n      url: \"https://h.example/\"\n"
     "      secret_env: S\n      headers: {X-A: x, x-a: y}\n",
     "alerts.webhooks[0].headers.x-a", 6, "duplicate header"},
    {"alerts:\n  webhooks:\n    - name: a\n      url: \"https://h.example/\"\n"
     "      secret_env: S\n      headers: [X-A]\n",
     "alerts.webhooks[0].headers", 6, "expected a mapping"},
    {"alerts:\n  webhooks:\n    - name: a\n      url: \"https://h.example/\"\n"
     "      secret_env: S\n      timeout: 1h\n",
     "alerts.webhooks[0].timeout", 6, "out of range"},
    {"alerts:\n  webhooks:\n    - {name: a, url: \"https://h.example/\", secret_env: S}\n"
     "    - {name: a, url: \"https://g.example/\", secret_env: T}\n",
     "alerts.webhooks[1].name", 4, "earlier webhook"},
    {"alerts:\n  alertmanager:\n    - {timeout: 5s}\n", "alerts.alertmanager[0].url", 3,
     "required"},
    {"alerts:\n  alertmanager:\n    - {url: \"http://127.0.0.1:9093\", timeout: 5}\n",
     "alerts.alertmanager[0].timeout", 3, "no unit"},
    {"alerts:\n  alertmanager:\n    - {url: \"http://\"}\n", "alerts.alertmanager[0].url", 3,
     "no host"},
    // export
    {"export:\n  ipfix:\n    - {observation_domain: 3}\n", "export.ipfix[0].collector", 3,
     "required"},
    {"export:\n  ipfix:\n    - {collector: \"collector:4739\"}\n", "export.ipfix[0].collector", 3,
     "not a listen address"},
    {"export:\n  ipfix:\n    - {collector: \"127.0.0.1:4739\", max_message_bytes: 100}\n",
     "export.ipfix[0].max_message_bytes", 3, "out of range"},
    {"export:\n  netflow: []\n", "export.netflow", 2, "unknown key"},
    // strings
    {"history:\n  path: \"a\\tb\"\n", "history.path", 2, "control character"},
};

TEST(ConfigErrorsTest, OneBadCasePerKey) {
  for (const BadCase& c : kBadCases) {
    const std::vector<std::string> errors = Errors(c.yaml);
    ASSERT_EQ(errors.size(), 1u) << c.yaml << "\n"
                                 << (errors.empty()
                                         ? "(no error)"
                                         : errors[0] + "\n" + (errors.size() > 1 ? errors[1] : ""));
    const std::string& e = errors[0];
    const std::string prefix = "t.yaml:" + std::to_string(c.line) + ":";
    EXPECT_EQ(e.rfind(prefix, 0), 0u) << "wrong line: " << e << "\nfor:\n" << c.yaml;
    EXPECT_NE(e.find(": " + std::string(c.path) + ": "), std::string::npos)
        << "wrong key path: " << e << "\nfor:\n"
        << c.yaml;
    EXPECT_NE(e.find(c.what), std::string::npos) << "wrong message: " << e << "\nfor:\n" << c.yaml;
  }
}

TEST(ConfigErrorsTest, ExactLineFormat) {
  const auto errors = Errors("detect:\n  weight_transfer:\n    min_size: 16 G\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0],
            "t.yaml:3:15: detect.weight_transfer.min_size: \"16 G\" is not a size (try 16GB or "
            "16GiB)");
}

TEST(ConfigErrorsTest, YamlSyntaxErrorHasPosition) {
  const auto errors = Errors("pipeline:\n  workers: [1, 2\nmetrics: {}\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind("t.yaml:", 0), 0u) << errors[0];
  EXPECT_NE(errors[0].find("YAML syntax error"), std::string::npos) << errors[0];
  const auto tab = Errors("pipeline:\n\tworkers: 2\n");
  ASSERT_EQ(tab.size(), 1u);
  EXPECT_EQ(tab[0].rfind("t.yaml:2:", 0), 0u) << tab[0];
}

TEST(ConfigErrorsTest, SecondDocumentRejected) {
  const auto errors = Errors("pipeline: {}\n---\nmetrics: {}\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("only one YAML document"), std::string::npos) << errors[0];
}

TEST(ConfigErrorsTest, AllProblemsReportedTogether) {
  const auto errors = Errors(
      "sitee: {}\n"                           // 1
      "pipeline:\n"                           // 2
      "  workers: 0\n"                        // 3
      "  flow_capacity: 10\n"                 // 4
      "detect:\n"                             // 5
      "  weight_transfer: {gap: 10}\n"        // 6
      "  staging: {storage: [10.1.2.3/8]}\n"  // 7
      "metrics: {listen: nope}\n");           // 8
  ASSERT_EQ(errors.size(), 6u);
  EXPECT_EQ(errors[0].rfind("t.yaml:1:1: sitee: unknown key", 0), 0u) << errors[0];
  EXPECT_EQ(errors[1].rfind("t.yaml:3:", 0), 0u) << errors[1];
  EXPECT_EQ(errors[2].rfind("t.yaml:4:", 0), 0u) << errors[2];
  EXPECT_EQ(errors[3].rfind("t.yaml:6:", 0), 0u) << errors[3];
  EXPECT_EQ(errors[4].rfind("t.yaml:7:", 0), 0u) << errors[4];
  EXPECT_EQ(errors[5].rfind("t.yaml:8:", 0), 0u) << errors[5];
}

TEST(ConfigErrorsTest, UnknownKeysAtEveryDepth) {
  const auto errors = Errors(
      "extra: 1\n"
      "detect:\n"
      "  weight_transfer:\n"
      "    external_group: {ipv4_prefix: 24, bogus: 1}\n");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].find("t.yaml:1:1: extra: unknown key"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("t.yaml:4:39: detect.weight_transfer.external_group.bogus: unknown key"),
            std::string::npos)
      << errors[1];
}

TEST(ConfigErrorsTest, DuplicateKeyNested) {
  const auto errors = Errors("pipeline:\n  workers: 2\n  workers: 3\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "t.yaml:3:3: pipeline.workers: duplicate key");
}

TEST(ConfigFile, MissingFileIsOneLine) {
  auto r = LoadConfigFile("/nonexistent/weighbridge.yaml");
  ASSERT_TRUE(std::holds_alternative<ConfigErrors>(r));
  const auto& lines = std::get<ConfigErrors>(r).lines;
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "/nonexistent/weighbridge.yaml: cannot open: No such file or directory");
  auto dir = LoadConfigFile("/");
  ASSERT_TRUE(std::holds_alternative<ConfigErrors>(dir));
}

// config_fuzz: yaml-cpp 0.7 looped forever on a NUL byte inside the shipped file's comments.
TEST(ConfigFuzzFindings, NulByteIsRefusedNotFedToYamlCpp) {
  const std::string text("# weighbridge: t\0-2\"], ports: [0]\npipeline: {}\n", 47);
  const auto errors = Errors(text);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0],
            "t.yaml:1:17: (top level): YAML syntax error: control character 0x00 is not allowed");
  const auto bell = Errors("pipeline:\n  workers: 2\a\n");
  ASSERT_EQ(bell.size(), 1u);
  EXPECT_EQ(bell[0].rfind("t.yaml:2:13:", 0), 0u) << bell[0];
}

// config_fuzz: yaml-cpp's LoadAll looped forever on ",h", and Load reads it as an empty document.
TEST(ConfigFuzzFindings, StrayFlowTokenIsAnError) {
  for (const char* text : {",h", ",", "pipeline: {}\n,x\n", "}"}) {
    const auto errors = Errors(text);
    ASSERT_EQ(errors.size(), 1u) << text;
    EXPECT_NE(errors[0].find("YAML syntax error"), std::string::npos) << errors[0];
  }
}

TEST(ConfigFuzzFindings, NestingAndOddInputsDoNotCrash) {
  std::string deep(5000, '[');
  EXPECT_FALSE(Errors(deep).empty());
  EXPECT_FALSE(Errors(std::string("pipeline: {workers: \"2\0\"}", 26)).empty());
  EXPECT_FALSE(Errors("? [a]\n: b\n").empty());
  EXPECT_FALSE(Errors("&a x: *a\n").empty());
}

}  // namespace
}  // namespace weighbridge::app
