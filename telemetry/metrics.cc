#include "weighbridge/telemetry/metrics.h"

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <iterator>
#include <limits>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "weighbridge/capture/site.h"
#include "weighbridge/core/counter.h"
#include "weighbridge/core/hash.h"
#include "weighbridge/core/ip.h"

namespace weighbridge::telemetry {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr std::size_t kDirections = static_cast<std::size_t>(capture::Direction::kCount);
constexpr std::size_t kFamilies = 2;  // ipv4, ipv6
constexpr std::size_t kEndReasons = 5;
constexpr std::size_t kKinds = static_cast<std::size_t>(analytics::AlertKind::kCount);
constexpr std::size_t kSeverities = static_cast<std::size_t>(analytics::AlertSeverity::kCount);
constexpr std::size_t kStates = static_cast<std::size_t>(analytics::AlertState::kCount);
constexpr const char* kFamilyNames[kFamilies] = {"ipv4", "ipv6"};

// Transfer sizes worth telling apart: a web page, a dataset shard, the catalog's model sizes.
constexpr double kTransferBuckets[] = {1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13};
// Per-burst processing: a 256-packet burst takes a few microseconds when all is well; a blocked
// ring (replay backpressure) or a stalled worker shows up in the upper buckets.
constexpr double kBurstBuckets[] = {1e-6, 2.5e-6, 5e-6,   1e-5, 2.5e-5, 5e-5,   1e-4, 2.5e-4,
                                    5e-4, 1e-3,   2.5e-3, 5e-3, 1e-2,   2.5e-2, 1e-1};

template <std::size_t N>
struct Histogram {
  std::array<RelaxedCounter, N> buckets;  // non-cumulative; +Inf is count - sum(buckets)
  RelaxedCounter count;
  std::atomic<double> sum{0};  // one writer: load + store, like RelaxedCounter

  void Observe(double v, const double (&bounds)[N]) noexcept {
    for (std::size_t i = 0; i < N; ++i) {
      if (v <= bounds[i]) {
        buckets[i].Add(1);
        break;
      }
    }
    count.Add(1);
    sum.store(sum.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
  }
  ClientMetric ToMetric(const double (&bounds)[N]) const {
    ClientMetric m;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < N; ++i) {
      cumulative += buckets[i].Get();
      m.histogram.bucket.push_back({cumulative, bounds[i]});
    }
    // Read count after the buckets: a racing Observe can only make count larger, so the
    // cumulative counts stay monotonic up to +Inf.
    const std::uint64_t total = std::max(count.Get(), cumulative);
    m.histogram.bucket.push_back({total, std::numeric_limits<double>::infinity()});
    m.histogram.sample_count = total;
    m.histogram.sample_sum = sum.load(std::memory_order_relaxed);
    return m;
  }
};

std::string WindowLabel(std::int64_t ns) {
  const std::int64_t s = ns / kNanosPerSecond;
  if (s > 0 && s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s > 0 && s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s > 0 && s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

std::int64_t WallNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Builds one family; Add* return the metric so a caller can set histogram fields.
class FamilyBuilder {
 public:
  FamilyBuilder(std::vector<MetricFamily>* out, std::string name, std::string help, MetricType type)
      : out_(out), index_(out->size()), type_(type) {
    out->push_back(MetricFamily{std::move(name), std::move(help), type, {}});
  }
  FamilyBuilder& Add(double v, std::vector<ClientMetric::Label> labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    if (type_ == MetricType::Counter) {
      m.counter.value = v;
    } else {
      m.gauge.value = v;
    }
    (*out_)[index_].metric.push_back(std::move(m));
    return *this;
  }
  FamilyBuilder& AddMetric(ClientMetric m, std::vector<ClientMetric::Label> labels = {}) {
    m.label = std::move(labels);
    (*out_)[index_].metric.push_back(std::move(m));
    return *this;
  }

 private:
  // An index, not a pointer: later families may reallocate the vector.
  std::vector<MetricFamily>* out_;
  std::size_t index_;
  MetricType type_;
};

double D(std::uint64_t v) {
  return static_cast<double>(v);
}

}  // namespace

const char* DeliveryReceiverName(DeliveryReceiver r) {
  switch (r) {
    case DeliveryReceiver::kWebhook:
      return "webhook";
    case DeliveryReceiver::kAlertmanager:
      return "alertmanager";
    case DeliveryReceiver::kLog:
      return "log";
    case DeliveryReceiver::kCount:
      break;
  }
  return "unknown";
}

const char* DeliveryResultName(DeliveryResult r) {
  switch (r) {
    case DeliveryResult::kDelivered:
      return "delivered";
    case DeliveryResult::kRetried:
      return "retried";
    case DeliveryResult::kFailed:
      return "failed";
    case DeliveryResult::kCount:
      break;
  }
  return "unknown";
}

// Everything behind Metrics. It is the Collectable the exposer holds (by weak_ptr), and it
// implements the three sinks. Sink state is written by one analytics thread; Collect() reads it
// from the exposer's threads.
class Metrics::Impl final : public prometheus::Collectable,
                            public analytics::FlowSink,
                            public analytics::TransferSink,
                            public analytics::AlertSink {
 public:
  explicit Impl(const MetricsOptions& options) : options_(options) {
    if (options_.top_window_ns <= 0) options_.top_window_ns = kNanosPerSecond;
  }

  // ---- FlowSink (analytics thread) --------------------------------------------------------

  void OnFlowUpdate(const analytics::FlowUpdate& u) override {
    const std::size_t fam = u.key.a.IsV4() ? 0 : 1;
    const auto d_ab = static_cast<std::size_t>(u.direction);
    const auto d_ba = static_cast<std::size_t>(capture::Reverse(u.direction));
    if (d_ab < kDirections && d_ba < kDirections) {
      AddDirection(d_ab, fam, u.a_to_b);
      AddDirection(d_ba, fam, u.b_to_a);
    }
    flow_updates_.Add(1);
    if (u.first_update) flows_started_.Add(1);
    const auto reason = static_cast<std::size_t>(u.reason);
    if (u.reason != analytics::FlowEndReason::kActive && reason < kEndReasons) {
      flows_ended_[reason].Add(1);
    }
    if (u.at.ns > newest_update_ns_.load(std::memory_order_relaxed)) {
      newest_update_ns_.store(u.at.ns, std::memory_order_relaxed);
    }
    AccountTop(u);
  }

  // ---- TransferSink (analytics thread) ----------------------------------------------------

  void OnTransfer(const analytics::Transfer& t) override {
    const auto kind = static_cast<std::size_t>(t.kind);
    if (kind >= kDirections) return;
    std::lock_guard<std::mutex> lock(transfers_mu_);
    auto [it, fresh] = open_transfers_.try_emplace(t.id, OpenTransfer{});
    if (fresh) transfers_started_[kind].Add(1);
    if (t.ended) {
      transfers_ended_[kind].Add(1);
      transfer_sizes_[kind].Observe(D(t.PayloadBytes()), kTransferBuckets);
      open_transfers_.erase(it);
    } else {
      it->second = OpenTransfer{kind, t.PayloadBytes()};
    }
  }

  // ---- AlertSink (analytics thread) -------------------------------------------------------

  void OnAlert(const analytics::Alert& a) override {
    const auto kind = static_cast<std::size_t>(a.kind);
    const auto sev = static_cast<std::size_t>(a.severity);
    const auto state = static_cast<std::size_t>(a.state);
    if (kind >= kKinds || sev >= kSeverities || state >= kStates) return;
    alert_versions_[kind][sev][state].Add(1);
    const bool fresh = seen_alerts_.insert(a.id).second;
    if (fresh) alerts_raised_[kind][sev].Add(1);
    if (a.state == analytics::AlertState::kEnded) {
      if (active_alerts_.erase(a.id) > 0) alerts_active_[kind].Set(alerts_active_[kind].Get() - 1);
      // An ended alert is never reported again; forgetting it keeps this set bounded.
      seen_alerts_.erase(a.id);
    } else if (active_alerts_.insert(a.id).second) {
      alerts_active_[kind].Add(1);
    }
    last_alert_ns_[kind].Set(static_cast<std::uint64_t>(WallNowNs()));
  }

  void FlushWindow() {
    PublishTop();
    hosts_.clear();
    groups_.clear();
  }

  // ---- scrape side ------------------------------------------------------------------------

  void SetSnapshotSource(std::function<void(PipelineSnapshot*)> fill) {
    std::lock_guard<std::mutex> lock(snapshot_mu_);
    fill_ = std::move(fill);
  }

  void ObserveBurst(std::int64_t ns) noexcept {
    burst_seconds_.Observe(static_cast<double>(ns) / 1e9, kBurstBuckets);
  }

  std::vector<MetricFamily> Collect() const override {
    PipelineSnapshot s;
    {
      std::lock_guard<std::mutex> lock(snapshot_mu_);
      if (fill_) fill_(&s);
    }
    std::vector<MetricFamily> out;
    CollectBuild(&out);
    CollectSnapshot(s, &out);
    CollectFlowInputs(s, &out);
    CollectFlows(&out);
    CollectTop(&out);
    CollectTransfers(&out);
    CollectAlerts(&out);
    return out;
  }

 private:
  struct OpenTransfer {
    std::size_t kind = 0;
    std::uint64_t payload_bytes = 0;
  };
  struct AddressHash {
    std::size_t operator()(const IpAddress& a) const noexcept { return HashAddress(a); }
  };
  struct Volume {
    std::uint64_t in_bytes = 0;   // towards the inside
    std::uint64_t out_bytes = 0;  // leaving the inside
  };
  struct TopEntry {
    std::string name;
    Volume v;
  };

  void AddDirection(std::size_t d, std::size_t fam, const analytics::DirectionCounters& c) {
    packets_[d][fam].Add(c.packets);
    l3_bytes_[d][fam].Add(c.l3_bytes);
    payload_bytes_[d][fam].Add(c.payload_bytes);
  }

  // Charges the update to the window of its event time; a later window publishes the earlier.
  void AccountTop(const analytics::FlowUpdate& u) {
    const std::int64_t w = options_.top_window_ns;
    const std::int64_t index = u.at.ns >= 0 ? u.at.ns / w : (u.at.ns - w + 1) / w;
    if (!window_started_) {
      window_index_ = index;
      window_started_ = true;
    } else if (index > window_index_) {
      FlushWindow();
      window_index_ = index;
    }
    const IpAddress* inside = nullptr;
    const IpAddress* external = nullptr;
    std::uint64_t to_inside = 0;
    std::uint64_t from_inside = 0;
    switch (u.direction) {
      case capture::Direction::kOutbound:  // a inside, b outside
        inside = &u.key.a;
        external = &u.key.b;
        from_inside = u.a_to_b.l3_bytes;
        to_inside = u.b_to_a.l3_bytes;
        break;
      case capture::Direction::kInbound:  // a outside, b inside
        inside = &u.key.b;
        external = &u.key.a;
        from_inside = u.b_to_a.l3_bytes;
        to_inside = u.a_to_b.l3_bytes;
        break;
      case capture::Direction::kInternal:  // the initiator is the inside host that counts
        inside = &u.key.a;
        from_inside = u.a_to_b.l3_bytes;
        to_inside = u.b_to_a.l3_bytes;
        break;
      default:
        return;
    }
    Volume& h = hosts_[*inside];
    h.in_bytes += to_inside;
    h.out_bytes += from_inside;
    if (external != nullptr) {
      const int len = external->IsV4() ? options_.ipv4_group_len : options_.ipv6_group_len;
      Volume& g = groups_[external->Masked(len)];
      g.in_bytes += to_inside;
      g.out_bytes += from_inside;
    }
  }

  template <typename Map>
  std::vector<TopEntry> Top(const Map& m, bool prefixes) const {
    std::vector<std::pair<IpAddress, Volume>> all(m.begin(), m.end());
    const std::size_t k = std::min(options_.top_k, all.size());
    auto bigger = [](const auto& x, const auto& y) {
      const std::uint64_t tx = x.second.in_bytes + x.second.out_bytes;
      const std::uint64_t ty = y.second.in_bytes + y.second.out_bytes;
      return tx != ty ? tx > ty : x.first < y.first;  // ties by address: deterministic
    };
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(), bigger);
    std::vector<TopEntry> top;
    top.reserve(k);
    for (std::size_t i = 0; i < k; ++i) {
      const IpAddress& a = all[i].first;
      std::string name = a.ToString();
      if (prefixes) {
        name += "/" + std::to_string(a.IsV4() ? options_.ipv4_group_len : options_.ipv6_group_len);
      }
      top.push_back(TopEntry{std::move(name), all[i].second});
    }
    return top;
  }

  void PublishTop() {
    std::vector<TopEntry> groups = Top(groups_, true);
    std::vector<TopEntry> hosts = Top(hosts_, false);
    std::lock_guard<std::mutex> lock(top_mu_);
    top_groups_ = std::move(groups);
    top_hosts_ = std::move(hosts);
  }

  void CollectBuild(std::vector<MetricFamily>* out) const {
    FamilyBuilder(out, "weighbridge_build_info", "Build information; the value is always 1.",
                  MetricType::Gauge)
        .Add(1, {{"version", options_.version}});
  }

  void CollectSnapshot(const PipelineSnapshot& s, std::vector<MetricFamily>* out) const {
    FamilyBuilder(out, "weighbridge_frames_total", "Frames read from the capture sources.",
                  MetricType::Counter)
        .Add(D(s.frames));
    FamilyBuilder(out, "weighbridge_wire_bytes_total",
                  "Original (wire) length of every frame read, accounted or not.",
                  MetricType::Counter)
        .Add(D(s.wire_bytes));
    FamilyBuilder(out, "weighbridge_ip_packets_total", "IP packets accounted, by family.",
                  MetricType::Counter)
        .Add(D(s.ipv4_packets), {{"family", "ipv4"}})
        .Add(D(s.ipv6_packets), {{"family", "ipv6"}});
    {
      FamilyBuilder f(out, "weighbridge_decode_errors_total",
                      "Frames not accounted, by decode reason (docs/decode-reasons.md).",
                      MetricType::Counter);
      for (std::size_t r = 1; r < capture::kDecodeResultCount; ++r) {
        f.Add(
            D(s.decode_errors[r]),
            {{"reason", std::string(capture::ReasonName(static_cast<capture::DecodeResult>(r)))}});
      }
    }
    FamilyBuilder(out, "weighbridge_fragments_unmatched_total",
                  "Non-first IP fragments whose first fragment was not seen.", MetricType::Counter)
        .Add(D(s.fragments_unmatched));
    {
      FamilyBuilder p(out, "weighbridge_packets_total",
                      "Packets accounted by the flow tables, by the packet's own direction.",
                      MetricType::Counter);
      for (std::size_t d = 0; d < kDirections; ++d) {
        p.Add(D(s.direction_packets[d]),
              {{"direction", capture::DirectionName(static_cast<capture::Direction>(d))}});
      }
      FamilyBuilder b(out, "weighbridge_bytes_total",
                      "L3 bytes accounted by the flow tables, by the packet's own direction.",
                      MetricType::Counter);
      for (std::size_t d = 0; d < kDirections; ++d) {
        b.Add(D(s.direction_l3_bytes[d]),
              {{"direction", capture::DirectionName(static_cast<capture::Direction>(d))}});
      }
    }
    {
      FamilyBuilder recv(out, "weighbridge_capture_received_packets_total",
                         "Packets the kernel or NIC reports as received, by source.",
                         MetricType::Counter);
      FamilyBuilder drops(out, "weighbridge_capture_drops_total",
                          "Packets lost below the sensor, by source and where: kernel buffer, "
                          "interface, NIC (imissed, ierrors, rx_nombuf).",
                          MetricType::Counter);
      for (const SourceSnapshot& src : s.sources) {
        recv.Add(D(src.stats.received), {{"source", src.name}});
        const std::pair<const char*, std::uint64_t> kinds[] = {
            {"kernel", src.stats.kernel_drops},
            {"interface", src.stats.interface_drops},
            {"nic_imissed", src.stats.nic_imissed},
            {"nic_ierrors", src.stats.nic_ierrors},
            {"nic_rx_nombuf", src.stats.nic_rx_nombuf}};
        for (const auto& [where, v] : kinds)
          drops.Add(D(v), {{"source", src.name}, {"where", where}});
      }
    }
    {
      FamilyBuilder ring(out, "weighbridge_ring_full_drops_total",
                         "Packets dropped because a shard's ring was full (live capture).",
                         MetricType::Counter);
      FamilyBuilder active(out, "weighbridge_flow_table_active_flows",
                           "Flows held in a shard's flow table.", MetricType::Gauge);
      FamilyBuilder cap(out, "weighbridge_flow_table_capacity_flows",
                        "Flows a shard's flow table holds at most.", MetricType::Gauge);
      FamilyBuilder load(out, "weighbridge_flow_table_load_ratio",
                         "Active flows over capacity, per shard.", MetricType::Gauge);
      FamilyBuilder ev(out, "weighbridge_flow_table_evictions_total",
                       "Flows pushed out of a full flow table.", MetricType::Counter);
      FamilyBuilder created(out, "weighbridge_flow_table_flows_created_total",
                            "Flows created in a shard's flow table.", MetricType::Counter);
      FamilyBuilder shard_packets(out, "weighbridge_shard_packets_total",
                                  "Packets accounted per shard.", MetricType::Counter);
      for (std::size_t i = 0; i < s.shards.size(); ++i) {
        const ShardSnapshot& sh = s.shards[i];
        const std::vector<ClientMetric::Label> l = {{"shard", std::to_string(i)}};
        ring.Add(D(sh.ring_full_drops), l);
        active.Add(D(sh.active_flows), l);
        cap.Add(D(sh.capacity_flows), l);
        load.Add(sh.capacity_flows == 0 ? 0.0 : D(sh.active_flows) / D(sh.capacity_flows), l);
        ev.Add(D(sh.evictions), l);
        created.Add(D(sh.flows_created), l);
        shard_packets.Add(D(sh.packets), l);
      }
    }
    FamilyBuilder(out, "weighbridge_merger_late_updates_total",
                  "Flow updates that reached the merger after it had passed their event time.",
                  MetricType::Counter)
        .Add(D(s.merger_late_updates));
    {
      FamilyBuilder peak(out, "weighbridge_ingest_window_bytes",
                         "Largest inbound payload one external group sent within the window.",
                         MetricType::Gauge);
      FamilyBuilder thr(out, "weighbridge_ingest_window_threshold_bytes",
                        "The window's dataset_ingest threshold.", MetricType::Gauge);
      for (const IngestWindowSnapshot& w : s.ingest_windows) {
        const std::vector<ClientMetric::Label> l = {{"window", WindowLabel(w.window_ns)}};
        peak.Add(D(w.peak_payload_bytes), l);
        thr.Add(D(w.threshold_bytes), l);
      }
    }
    {
      FamilyBuilder f(out, "weighbridge_alert_deliveries_total",
                      "Alert delivery attempts, by receiver kind and result.", MetricType::Counter);
      for (std::size_t r = 0; r < s.deliveries.size(); ++r) {
        for (std::size_t x = 0; x < s.deliveries[r].size(); ++x) {
          f.Add(D(s.deliveries[r][x]),
                {{"receiver", DeliveryReceiverName(static_cast<DeliveryReceiver>(r))},
                 {"result", DeliveryResultName(static_cast<DeliveryResult>(x))}});
        }
      }
    }
    FamilyBuilder(out, "weighbridge_history_records_written_total",
                  "Records written to the history database.", MetricType::Counter)
        .Add(D(s.history.records_written));
    FamilyBuilder(out, "weighbridge_history_queue_depth_records",
                  "Records waiting for the history writer.", MetricType::Gauge)
        .Add(D(s.history.queue_depth));
    FamilyBuilder(out, "weighbridge_history_dropped_records_total",
                  "Records dropped because the history queue was full.", MetricType::Counter)
        .Add(D(s.history.dropped));
    FamilyBuilder(out, "weighbridge_history_db_size_bytes",
                  "Estimated live size of the history database on disk.", MetricType::Gauge)
        .Add(D(s.history.db_size_bytes));
    // Stream time: the newest packet if the app knows it, else the newest flow update's event.
    std::int64_t stream_ns = s.newest_packet.ns;
    if (stream_ns == 0) stream_ns = newest_update_ns_.load(std::memory_order_relaxed);
    FamilyBuilder(out, "weighbridge_stream_time_seconds",
                  "Stream time (packet timestamps) the pipeline has reached, Unix seconds.",
                  MetricType::Gauge)
        .Add(static_cast<double>(stream_ns) / 1e9);
    FamilyBuilder(out, "weighbridge_pipeline_lag_seconds",
                  "Wall time minus stream time: how far processing is behind live traffic "
                  "(0 before the first packet).",
                  MetricType::Gauge)
        .Add(stream_ns == 0 ? 0.0 : static_cast<double>(WallNowNs() - stream_ns) / 1e9);
    FamilyBuilder(out, "weighbridge_burst_processing_seconds",
                  "Wall time to hand one burst of packets to the shards (sampled per burst).",
                  MetricType::Histogram)
        .AddMetric(burst_seconds_.ToMetric(kBurstBuckets));
  }

  // Flow-protocol inputs: only a sensor with such inputs has these families.
  static void CollectFlowInputs(const PipelineSnapshot& s, std::vector<MetricFamily>* out) {
    if (!s.flow_inputs.empty()) {
      FamilyBuilder dg(out, "weighbridge_flow_input_datagrams_total",
                       "Flow-protocol datagrams received, by input (allowed or not).",
                       MetricType::Counter);
      FamilyBuilder rec(out, "weighbridge_flow_input_records_total",
                        "IPFIX / NetFlow flow records decoded, by input.", MetricType::Counter);
      FamilyBuilder smp(out, "weighbridge_flow_input_samples_total",
                        "sFlow sampled packet headers decoded (each stands for sampling-rate "
                        "packets), by input.",
                        MetricType::Counter);
      FamilyBuilder cs(out, "weighbridge_flow_input_interface_reports_total",
                       "sFlow counter samples (interface reports) kept, by input.",
                       MetricType::Counter);
      FamilyBuilder tpl(out, "weighbridge_flow_input_templates_total",
                        "IPFIX / NetFlow v9 templates learned, withdrawn and expired, by input.",
                        MetricType::Counter);
      FamilyBuilder drop(out, "weighbridge_flow_input_dropped_total",
                         "Flow-protocol datagrams, sets, samples or records dropped, by input "
                         "and reason (docs/flow-protocols.md).",
                         MetricType::Counter);
      for (const FlowInputSnapshot& in : s.flow_inputs) {
        const std::vector<ClientMetric::Label> l = {{"source", in.source}};
        dg.Add(D(in.datagrams), l);
        rec.Add(D(in.flow_records), l);
        smp.Add(D(in.sampled_packets), l);
        cs.Add(D(in.counter_samples), l);
        tpl.Add(D(in.templates_learned), {{"source", in.source}, {"event", "learned"}})
            .Add(D(in.templates_withdrawn), {{"source", in.source}, {"event", "withdrawn"}})
            .Add(D(in.templates_expired), {{"source", in.source}, {"event", "expired"}});
        for (std::size_t r = 0; r < capture::kFlowDropReasonCount; ++r) {
          drop.Add(D(in.dropped[r]),
                   {{"source", in.source},
                    {"reason",
                     std::string(capture::ReasonName(static_cast<capture::FlowDropReason>(r)))}});
        }
      }
    }
    if (!s.exports.empty()) {
      FamilyBuilder msg(out, "weighbridge_export_messages_total",
                        "IPFIX messages sent to a collector (export.ipfix).", MetricType::Counter);
      FamilyBuilder rec(out, "weighbridge_export_records_total",
                        "IPFIX data records exported to a collector.", MetricType::Counter);
      FamilyBuilder err(out, "weighbridge_export_send_errors_total",
                        "IPFIX messages that could not be sent (the collector refused or the "
                        "socket buffer was full); their records are lost.",
                        MetricType::Counter);
      for (const ExportSnapshot& e : s.exports) {
        const std::vector<ClientMetric::Label> l = {{"collector", e.collector}};
        msg.Add(D(e.messages), l);
        rec.Add(D(e.records), l);
        err.Add(D(e.send_errors), l);
      }
    }
    if (s.sflow_interfaces.empty() && s.sflow_interfaces_untracked == 0) return;
    FamilyBuilder oct(out, "weighbridge_sflow_interface_octets_total",
                      "Octets an sFlow agent counted on an interface (ifIn/OutOctets), by "
                      "direction.",
                      MetricType::Counter);
    FamilyBuilder pkt(out, "weighbridge_sflow_interface_packets_total",
                      "Packets an sFlow agent counted on an interface (unicast, multicast and "
                      "broadcast), by direction.",
                      MetricType::Counter);
    FamilyBuilder dis(out, "weighbridge_sflow_interface_discards_total",
                      "Packets an sFlow agent discarded on an interface, by direction.",
                      MetricType::Counter);
    FamilyBuilder err(out, "weighbridge_sflow_interface_errors_total",
                      "Packets with errors on an sFlow agent's interface, by direction.",
                      MetricType::Counter);
    FamilyBuilder speed(out, "weighbridge_sflow_interface_speed_bps",
                        "An sFlow agent's interface speed (ifSpeed), bits/s.", MetricType::Gauge);
    FamilyBuilder up(out, "weighbridge_sflow_interface_up",
                     "1 when the interface's operational status is up.", MetricType::Gauge);
    for (const SflowInterfaceSnapshot& i : s.sflow_interfaces) {
      const std::string index = std::to_string(i.if_index);
      auto dir = [&](const char* d) -> std::vector<ClientMetric::Label> {
        return {{"agent", i.agent}, {"ifindex", index}, {"direction", d}};
      };
      oct.Add(D(i.in_octets), dir("in")).Add(D(i.out_octets), dir("out"));
      pkt.Add(D(i.in_packets), dir("in")).Add(D(i.out_packets), dir("out"));
      dis.Add(D(i.in_discards), dir("in")).Add(D(i.out_discards), dir("out"));
      err.Add(D(i.in_errors), dir("in")).Add(D(i.out_errors), dir("out"));
      speed.Add(D(i.speed_bps), {{"agent", i.agent}, {"ifindex", index}});
      up.Add(i.up ? 1.0 : 0.0, {{"agent", i.agent}, {"ifindex", index}});
    }
    FamilyBuilder(out, "weighbridge_sflow_interfaces_untracked_total",
                  "sFlow counter samples not kept: their interface was beyond the number "
                  "tracked.",
                  MetricType::Counter)
        .Add(D(s.sflow_interfaces_untracked));
  }

  void CollectFlows(std::vector<MetricFamily>* out) const {
    FamilyBuilder p(out, "weighbridge_flow_packets_total",
                    "Packets reported in flow updates, by direction and address family.",
                    MetricType::Counter);
    FamilyBuilder b(out, "weighbridge_flow_bytes_total",
                    "L3 bytes reported in flow updates, by direction and address family.",
                    MetricType::Counter);
    FamilyBuilder pb(out, "weighbridge_flow_payload_bytes_total",
                     "Transport payload bytes reported in flow updates, by direction and family.",
                     MetricType::Counter);
    for (std::size_t d = 0; d < kDirections; ++d) {
      for (std::size_t f = 0; f < kFamilies; ++f) {
        const std::vector<ClientMetric::Label> l = {
            {"direction", capture::DirectionName(static_cast<capture::Direction>(d))},
            {"family", kFamilyNames[f]}};
        p.Add(D(packets_[d][f].Get()), l);
        b.Add(D(l3_bytes_[d][f].Get()), l);
        pb.Add(D(payload_bytes_[d][f].Get()), l);
      }
    }
    FamilyBuilder(out, "weighbridge_flow_updates_total", "Flow updates emitted by the shards.",
                  MetricType::Counter)
        .Add(D(flow_updates_.Get()));
    FamilyBuilder(out, "weighbridge_flows_started_total", "Flows seen for the first time.",
                  MetricType::Counter)
        .Add(D(flows_started_.Get()));
    FamilyBuilder ended(out, "weighbridge_flows_ended_total", "Flows ended, by reason.",
                        MetricType::Counter);
    for (std::size_t r = 1; r < kEndReasons; ++r) {
      ended.Add(
          D(flows_ended_[r].Get()),
          {{"reason", analytics::FlowEndReasonName(static_cast<analytics::FlowEndReason>(r))}});
    }
  }

  void CollectTop(std::vector<MetricFamily>* out) const {
    FamilyBuilder(out, "weighbridge_top_window_seconds",
                  "Length of the stream-time window the top-K gauges rank.", MetricType::Gauge)
        .Add(static_cast<double>(options_.top_window_ns) / 1e9);
    FamilyBuilder groups(out, "weighbridge_top_peer_group_bytes",
                         "L3 bytes of the top-K external peer groups (/24, /48) in the last "
                         "window, by direction relative to the site.",
                         MetricType::Gauge);
    FamilyBuilder hosts(out, "weighbridge_top_inside_host_bytes",
                        "L3 bytes of the top-K inside hosts in the last window, by direction "
                        "relative to the site.",
                        MetricType::Gauge);
    std::lock_guard<std::mutex> lock(top_mu_);
    for (const TopEntry& e : top_groups_) {
      groups.Add(D(e.v.in_bytes), {{"direction", "inbound"}, {"group", e.name}});
      groups.Add(D(e.v.out_bytes), {{"direction", "outbound"}, {"group", e.name}});
    }
    for (const TopEntry& e : top_hosts_) {
      hosts.Add(D(e.v.in_bytes), {{"direction", "inbound"}, {"host", e.name}});
      hosts.Add(D(e.v.out_bytes), {{"direction", "outbound"}, {"host", e.name}});
    }
  }

  void CollectTransfers(std::vector<MetricFamily>* out) const {
    FamilyBuilder started(out, "weighbridge_transfers_started_total",
                          "Transfers started, by kind (where the payload goes).",
                          MetricType::Counter);
    FamilyBuilder ended(out, "weighbridge_transfers_ended_total", "Transfers ended, by kind.",
                        MetricType::Counter);
    FamilyBuilder active(out, "weighbridge_transfers_active", "Transfers running, by kind.",
                         MetricType::Gauge);
    FamilyBuilder largest(out, "weighbridge_transfer_largest_active_payload_bytes",
                          "Payload so far of the largest running transfer, by kind.",
                          MetricType::Gauge);
    FamilyBuilder sizes(out, "weighbridge_transfer_payload_bytes",
                        "Payload of ended transfers, by kind.", MetricType::Histogram);
    std::array<std::uint64_t, kDirections> open{};
    std::array<std::uint64_t, kDirections> big{};
    {
      std::lock_guard<std::mutex> lock(transfers_mu_);
      for (const auto& [id, t] : open_transfers_) {
        ++open[t.kind];
        big[t.kind] = std::max(big[t.kind], t.payload_bytes);
      }
    }
    // Transit traffic never forms transfers; kinds are outbound, inbound, internal.
    for (std::size_t k = 0; k < 3; ++k) {
      const std::vector<ClientMetric::Label> l = {
          {"kind", capture::DirectionName(static_cast<capture::Direction>(k))}};
      started.Add(D(transfers_started_[k].Get()), l);
      ended.Add(D(transfers_ended_[k].Get()), l);
      active.Add(D(open[k]), l);
      largest.Add(D(big[k]), l);
      sizes.AddMetric(transfer_sizes_[k].ToMetric(kTransferBuckets), l);
    }
  }

  void CollectAlerts(std::vector<MetricFamily>* out) const {
    FamilyBuilder raised(out, "weighbridge_alerts_total",
                         "Alerts raised (distinct ids), by kind and first severity.",
                         MetricType::Counter);
    FamilyBuilder versions(out, "weighbridge_alert_updates_total",
                           "Alert versions reported, by kind, severity and state.",
                           MetricType::Counter);
    FamilyBuilder active(out, "weighbridge_alerts_active", "Alerts active now, by kind.",
                         MetricType::Gauge);
    FamilyBuilder last(out, "weighbridge_alert_last_timestamp_seconds",
                       "Wall time of the latest alert version of each kind (0: none yet).",
                       MetricType::Gauge);
    for (std::size_t k = 0; k < kKinds; ++k) {
      const std::string kind(analytics::AlertKindName(static_cast<analytics::AlertKind>(k)));
      for (std::size_t s = 0; s < kSeverities; ++s) {
        const std::string sev(
            analytics::AlertSeverityName(static_cast<analytics::AlertSeverity>(s)));
        raised.Add(D(alerts_raised_[k][s].Get()), {{"kind", kind}, {"severity", sev}});
        for (std::size_t st = 0; st < kStates; ++st) {
          versions.Add(
              D(alert_versions_[k][s][st].Get()),
              {{"kind", kind},
               {"severity", sev},
               {"state",
                std::string(analytics::AlertStateName(static_cast<analytics::AlertState>(st)))}});
        }
      }
      active.Add(D(alerts_active_[k].Get()), {{"kind", kind}});
      last.Add(D(last_alert_ns_[k].Get()) / 1e9, {{"kind", kind}});
    }
  }

  MetricsOptions options_;

  // Written by the analytics thread only.
  std::array<std::array<RelaxedCounter, kFamilies>, kDirections> packets_;
  std::array<std::array<RelaxedCounter, kFamilies>, kDirections> l3_bytes_;
  std::array<std::array<RelaxedCounter, kFamilies>, kDirections> payload_bytes_;
  RelaxedCounter flow_updates_;
  RelaxedCounter flows_started_;
  std::array<RelaxedCounter, kEndReasons> flows_ended_;
  std::atomic<std::int64_t> newest_update_ns_{0};

  std::array<RelaxedCounter, kDirections> transfers_started_;
  std::array<RelaxedCounter, kDirections> transfers_ended_;
  std::array<Histogram<std::size(kTransferBuckets)>, kDirections> transfer_sizes_;
  mutable std::mutex
      transfers_mu_;  // open_transfers_: written per transfer version, read per scrape
  std::unordered_map<std::uint64_t, OpenTransfer> open_transfers_;

  std::array<std::array<std::array<RelaxedCounter, kStates>, kSeverities>, kKinds> alert_versions_;
  std::array<std::array<RelaxedCounter, kSeverities>, kKinds> alerts_raised_;
  std::array<RelaxedCounter, kKinds> alerts_active_;
  std::array<RelaxedCounter, kKinds> last_alert_ns_;
  std::unordered_set<std::uint64_t> seen_alerts_;    // ids not yet ended
  std::unordered_set<std::uint64_t> active_alerts_;  // ids whose latest state is active

  // Top-K: the window in progress (analytics thread only), and the published lists.
  bool window_started_ = false;
  std::int64_t window_index_ = 0;
  std::unordered_map<IpAddress, Volume, AddressHash> hosts_;
  std::unordered_map<IpAddress, Volume, AddressHash> groups_;
  mutable std::mutex top_mu_;
  std::vector<TopEntry> top_groups_;
  std::vector<TopEntry> top_hosts_;

  Histogram<std::size(kBurstBuckets)> burst_seconds_;  // one producer thread

  mutable std::mutex snapshot_mu_;
  std::function<void(PipelineSnapshot*)> fill_;
};

Metrics::Metrics(const MetricsOptions& options) : impl_(std::make_shared<Impl>(options)) {}

Metrics::~Metrics() {
  // Stop the server (and its scrape threads) before the state it reads goes away.
  exposer_.reset();
}

Status Metrics::Serve(const std::string& listen) {
  if (exposer_) return Status::Error("metrics: already serving");
  try {
    // Two threads: a scrape never waits for another scraper's slow connection.
    exposer_ = std::make_unique<prometheus::Exposer>(listen, 2);
  } catch (const std::exception& e) {
    return Status::Error("metrics: cannot listen on " + listen + ": " + e.what());
  }
  exposer_->RegisterCollectable(impl_);
  return Status::Ok();
}

int Metrics::port() const {
  if (!exposer_) return 0;
  const std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

analytics::FlowSink* Metrics::flow_sink() {
  return impl_.get();
}
analytics::TransferSink* Metrics::transfer_sink() {
  return impl_.get();
}
analytics::AlertSink* Metrics::alert_sink() {
  return impl_.get();
}
void Metrics::FlushWindow() {
  impl_->FlushWindow();
}

void Metrics::SetSnapshotSource(std::function<void(PipelineSnapshot*)> fill) {
  impl_->SetSnapshotSource(std::move(fill));
}

void Metrics::ObserveBurst(std::int64_t processing_ns) noexcept {
  impl_->ObserveBurst(processing_ns);
}

std::string Metrics::RenderText() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, impl_->Collect());
  return out.str();
}

}  // namespace weighbridge::telemetry
