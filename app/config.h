// The weighbridge configuration: typed structs for every section of the YAML file, the strict
// loader that fills them, and the check-config explanation. Defaults live in exactly one place:
// the member initialisers below (and those of the capture option structs). config/weighbridge.yaml
// states the same values, which a unit test checks.
//
// Used by app/ only, at start-up, on one thread. Modules never see YAML: app/ hands each one its
// own options struct from here.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "weighbridge/analytics/flow.h"
#include "weighbridge/capture/decode.h"
#include "weighbridge/capture/packet_meta.h"
#include "weighbridge/capture/pcap_source.h"
#include "weighbridge/capture/site.h"
#include "weighbridge/core/ip.h"
#include "weighbridge/core/units.h"

namespace weighbridge::app {

inline constexpr std::int64_t kNanosPerMinute = 60 * kNanosPerSecond;
inline constexpr std::int64_t kNanosPerHour = 60 * kNanosPerMinute;
inline constexpr std::int64_t kNanosPerDay = 24 * kNanosPerHour;
inline constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;
inline constexpr std::uint64_t kTB = 1'000'000'000'000;

// An IP address and port to listen on, written `127.0.0.1:9477` or `[::1]:9477`.
struct ListenAddress {
  IpAddress address;
  std::uint16_t port = 0;

  std::string ToString() const;
  // Strict: the whole text must match; no host names. Port 1-65535.
  static bool Parse(std::string_view text, ListenAddress* out);
  friend bool operator==(const ListenAddress&, const ListenAddress&) = default;
};

enum class CaptureType : std::uint8_t { kPcap, kDpdk, kSynth, kSflow, kIpfix, kNetflow };
std::string_view CaptureTypeName(CaptureType t);  // "pcap", "dpdk", ...

// `capture: - {type: dpdk, ...}`. Until capture/ publishes its DPDK options, app/ keeps them here.
struct DpdkSourceConfig {
  std::vector<std::string> eal;      // EAL arguments, passed through as given
  std::vector<std::uint16_t> ports;  // DPDK port ids to receive on
  std::uint16_t queues = 1;          // RX queues per port (RSS spreads flows over them)
  friend bool operator==(const DpdkSourceConfig&, const DpdkSourceConfig&) = default;
};

// `capture: - {type: synth, ...}`: the built-in traffic generator.
struct SynthSourceConfig {
  std::string scenario;
  std::uint64_t seed = 1;
  friend bool operator==(const SynthSourceConfig&, const SynthSourceConfig&) = default;
};

// `capture: - {type: sflow|ipfix|netflow, ...}`: flow-protocol collectors.
struct FlowProtocolSourceConfig {
  ListenAddress listen;
  std::vector<Prefix> exporters;  // datagrams from anyone else are dropped and counted
  friend bool operator==(const FlowProtocolSourceConfig&,
                         const FlowProtocolSourceConfig&) = default;
};

// One entry of `capture:`. Only the member for `type` is meaningful; the others keep defaults.
struct CaptureSourceConfig {
  CaptureType type = CaptureType::kPcap;
  capture::LiveCaptureOptions pcap;  // type pcap
  DpdkSourceConfig dpdk;             // type dpdk
  SynthSourceConfig synth;           // type synth
  FlowProtocolSourceConfig flow;     // type sflow, ipfix, netflow
  friend bool operator==(const CaptureSourceConfig&, const CaptureSourceConfig&) = default;
};

// `pipeline:` is analytics::PipelineOptions itself (its defaults are the config's defaults).
using PipelineConfig = analytics::PipelineOptions;

// How external peers are grouped into one party: by a prefix of this many bits per family.
struct ExternalGroupConfig {
  int ipv4_prefix_len = 24;
  int ipv6_prefix_len = 48;
  friend bool operator==(const ExternalGroupConfig&, const ExternalGroupConfig&) = default;
};

struct WeightTransferConfig {
  std::uint64_t min_size_bytes = 1 * kGiB;
  std::int64_t gap_ns = 10 * kNanosPerMinute;
  ExternalGroupConfig external_group;
  // Largest relative difference from a catalog size that still counts as a match, in basis
  // points (1/100 of a percent) so that the value is exact and round-trips through YAML.
  std::uint32_t tolerance_basis_points = 200;
  std::string catalog = "config/models.yaml";
  // The operator's own models and dtypes, loaded after `catalog` (a name defined twice is an
  // error). Relative paths as for `catalog`.
  std::vector<std::string> extra_catalogs;
  friend bool operator==(const WeightTransferConfig&, const WeightTransferConfig&) = default;
};

struct IngestWindowConfig {
  std::int64_t window_ns = 0;
  std::uint64_t threshold_bytes = 0;
  friend bool operator==(const IngestWindowConfig&, const IngestWindowConfig&) = default;
};

struct IngestConfig {
  ExternalGroupConfig external_group;
  std::vector<IngestWindowConfig> windows = {{1 * kNanosPerHour, 10 * kTB},
                                             {24 * kNanosPerHour, 100 * kTB},
                                             {7 * kNanosPerDay, 1000 * kTB}};
  friend bool operator==(const IngestConfig&, const IngestConfig&) = default;
};

struct StagingConfig {
  std::int64_t window_ns = 1 * kNanosPerHour;
  std::uint64_t threshold_bytes = 10 * kTB;
  // "No bulk history": the host sent at most baseline_max_bytes into storage in the
  // baseline_ns before the window.
  std::int64_t baseline_ns = 7 * kNanosPerDay;
  std::uint64_t baseline_max_bytes = 1 * kTB;
  std::vector<Prefix> storage;  // each inside site.inside; empty: the detector has nothing to watch
  friend bool operator==(const StagingConfig&, const StagingConfig&) = default;
};

struct TrainAndReturnConfig {
  std::int64_t within_ns = 30 * kNanosPerDay;
  friend bool operator==(const TrainAndReturnConfig&, const TrainAndReturnConfig&) = default;
};

// Traffic between the site and these prefixes, in these directions, never alerts.
struct AllowRuleConfig {
  std::string name;
  std::vector<Prefix> prefixes;
  std::vector<capture::Direction> directions = {
      capture::Direction::kInbound, capture::Direction::kOutbound, capture::Direction::kInternal,
      capture::Direction::kTransit};
  friend bool operator==(const AllowRuleConfig&, const AllowRuleConfig&) = default;
};

// Alerts that involve these tenants (by name, from site.tenants) or destinations are critical.
struct SensitiveConfig {
  std::vector<std::string> tenants;
  std::vector<Prefix> prefixes;
  friend bool operator==(const SensitiveConfig&, const SensitiveConfig&) = default;
};

// A named external organisation: all its prefixes are one peer group for transfers, ingest
// windows and train_and_return, whatever address of it a flow used.
struct PeerGroupConfig {
  std::string name;
  std::vector<Prefix> prefixes;
  friend bool operator==(const PeerGroupConfig&, const PeerGroupConfig&) = default;
};

struct DetectConfig {
  WeightTransferConfig weight_transfer;
  IngestConfig ingest;
  StagingConfig staging;
  TrainAndReturnConfig train_and_return;
  std::vector<AllowRuleConfig> allow;
  SensitiveConfig sensitive;
  std::vector<PeerGroupConfig> peer_groups;
  friend bool operator==(const DetectConfig&, const DetectConfig&) = default;
};

struct HistoryConfig {
  std::string path;                               // RocksDB directory; empty: no history
  std::int64_t retention_ns = 90 * kNanosPerDay;  // flows and rollups
  std::int64_t transfers_retention_ns = 365 * kNanosPerDay;
  std::int64_t alerts_retention_ns = 365 * kNanosPerDay;
  std::uint64_t size_budget_bytes = 0;  // 0: none
  std::string sync = "every_batch";     // every_batch | interval
  std::int64_t sync_interval_ns = 1 * kNanosPerSecond;
  std::uint64_t queue_capacity = 65536;
  friend bool operator==(const HistoryConfig&, const HistoryConfig&) = default;
};

struct MetricsConfig {
  ListenAddress listen = {IpAddress::V4(0x7f000001), 9477};
  ListenAddress health_listen = {IpAddress::V4(0x7f000001), 9478};  // `run`: /health, /ready
  std::uint64_t top_k = 20;                                         // top-K peers and hosts gauges
  std::int64_t top_window_ns = 300 * kNanosPerSecond;               // ...over windows this long
  friend bool operator==(const MetricsConfig&, const MetricsConfig&) = default;
};

// The secret itself never sits in the config: exactly one of secret_file and secret_env names
// where to read it at start-up.
struct WebhookConfig {
  std::string name;
  std::string url;
  std::string secret_file;
  std::string secret_env;
  std::map<std::string, std::string> headers;  // extra request headers
  std::int64_t timeout_ns = 10 * kNanosPerSecond;
  std::string ca_file;  // PEM bundle to trust for HTTPS instead of the system's; "" system
  friend bool operator==(const WebhookConfig&, const WebhookConfig&) = default;
};

struct AlertmanagerConfig {
  std::string url;  // base URL; alerts go to <url>/api/v2/alerts
  std::int64_t timeout_ns = 10 * kNanosPerSecond;
  std::string ca_file;
  friend bool operator==(const AlertmanagerConfig&, const AlertmanagerConfig&) = default;
};

struct AlertRetryConfig {
  std::int64_t initial_backoff_ns = 1 * kNanosPerSecond;
  std::int64_t max_backoff_ns = 5 * kNanosPerMinute;
  std::int64_t max_age_ns = 24 * kNanosPerHour;  // then dead-lettered
  friend bool operator==(const AlertRetryConfig&, const AlertRetryConfig&) = default;
};

struct AlertsConfig {
  std::string log_path;  // JSON-lines alert log; empty: none
  std::vector<WebhookConfig> webhooks;
  std::vector<AlertmanagerConfig> alertmanager;
  AlertRetryConfig retry;
  std::int64_t alertmanager_resend_ns = 1 * kNanosPerMinute;
  std::string site;    // Alertmanager label `site`; "" none
  std::string sensor;  // Alertmanager label `sensor`; "" this host's name
  friend bool operator==(const AlertsConfig&, const AlertsConfig&) = default;
};

// `daemon:` — how `weighbridge run` runs.
struct DaemonConfig {
  std::string user;                 // drop to this user after opening captures; "" stays as is
  std::string log_format = "text";  // text | json
  std::string log_level = "info";   // debug | info | warning | error
  std::int64_t stats_interval_ns = 60 * kNanosPerSecond;  // a stats log line this often
  friend bool operator==(const DaemonConfig&, const DaemonConfig&) = default;
};

// The whole configuration. Value type; built once at start-up.
// `export.ipfix`: weighbridge's own flow records sent as IPFIX to a site's collector (nfcapd,
// pmacct, ...), so the site keeps its flow pipeline (docs/flow-protocols.md "IPFIX export").
struct IpfixExportConfig {
  ListenAddress collector;                 // where to send, address:port (UDP)
  std::uint64_t observation_domain = 1;    // IPFIX observation domain id (0 - 2^32-1)
  std::uint64_t max_message_bytes = 1400;  // under a 1500-byte MTU with IP and UDP headers
  std::uint64_t template_refresh = 16;     // templates again every this many messages
  friend bool operator==(const IpfixExportConfig&, const IpfixExportConfig&) = default;
};
struct ExportConfig {
  std::vector<IpfixExportConfig> ipfix;
  friend bool operator==(const ExportConfig&, const ExportConfig&) = default;
};

struct Config {
  // No prefix is inside until the config says so: a sensor must not guess a site's address plan
  // (without one, every packet is transit and nothing alerts).
  capture::SiteOptions site;
  std::vector<CaptureSourceConfig> capture;
  PipelineConfig pipeline;
  capture::DecodeOptions decode;
  DetectConfig detect;
  HistoryConfig history;
  MetricsConfig metrics;
  AlertsConfig alerts;
  DaemonConfig daemon;
  ExportConfig flow_export;  // `export:` (a C++ keyword)
  // Things check-config should tell the operator that are not errors (e.g. a value that a module
  // rounds). Derived from the values above, so equal configs have equal notes.
  std::vector<std::string> notes;
  friend bool operator==(const Config&, const Config&) = default;
};

// Every problem found, one line each: "FILE:LINE:COL: key.path: what was wrong (what is accepted)".
struct ConfigErrors {
  std::vector<std::string> lines;
};

// Reads, parses and validates a config file. `path` is used as given in error lines.
std::variant<Config, ConfigErrors> LoadConfigFile(const std::string& path);
// The same for text in memory; `name` stands in for the file name in error lines.
std::variant<Config, ConfigErrors> LoadConfigText(std::string_view text, std::string_view name);
// All defaults; equal to what LoadConfigText("", ...) returns.
Config DefaultConfig();
// The effective configuration as YAML, every key present, plus the notes as comments. Loading it
// back gives an equal Config.
std::string ExplainConfig(const Config& config);

// Value syntax, exposed for tests. Each returns "" on success, else what was wrong and what would
// be accepted (without the key path).
std::string ParseSize(std::string_view text, std::uint64_t* bytes);
std::string ParseDuration(std::string_view text, std::int64_t* ns);
std::string ParsePercent(std::string_view text, std::uint32_t* basis_points);
std::string FormatSize(std::uint64_t bytes);
std::string FormatDuration(std::int64_t ns);
std::string FormatPercent(std::uint32_t basis_points);

}  // namespace weighbridge::app
