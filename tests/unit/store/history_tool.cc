// Test-only tool for the history store.
//   history_tool crash-writer --db PATH --start I --seed N [--sync every|interval] [--seconds S]
//     Writes records I, I+1, ... through HistoryWriter in random-sized bursts and prints
//     "ack N" after each Flush() that returned ok: records I..N are durable. Record i is a flow
//     update whose a address is 10.x.y.z from i's low 24 bits, with a_to_b bytes 1000 + i % 50000,
//     at 2026-01-01 + i ms; every 16th also an alert with id i and bytes 10 * i. Run until killed
//     (tests/integration/history_crash.py sends SIGKILL) or for S seconds.
//   history_tool fill --db PATH --updates N [--hours H] [--hosts K] [--groups G] [--seed S]
//     Synthetic history for measurements: N flow updates over H hours (default 24), with
//     transfers and alerts; prints the write rate and the bytes on disk per record.
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>

#include "weighbridge/store/history.h"

namespace {

using weighbridge::IpAddress;
using weighbridge::Prefix;
using weighbridge::StreamTime;
namespace analytics = weighbridge::analytics;
namespace store = weighbridge::store;

constexpr std::int64_t kT0 = 1'767'225'600'000'000'000;  // 2026-01-01T00:00:00Z
constexpr std::int64_t kMs = 1'000'000;

const char* Arg(int argc, char** argv, std::string_view name, const char* def) {
  for (int i = 2; i + 1 < argc; ++i) {
    if (name == argv[i]) return argv[i + 1];
  }
  return def;
}

std::uint64_t DirSize(const std::string& path) {
  std::uint64_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(path, ec)) {
    if (e.is_regular_file(ec)) n += e.file_size(ec);
  }
  return n;
}

int CrashWriter(int argc, char** argv) {
  store::HistoryOptions o;
  o.path = Arg(argc, argv, "--db", "");
  o.sync = std::string_view(Arg(argc, argv, "--sync", "every")) == "interval"
               ? store::SyncPolicy::kInterval
               : store::SyncPolicy::kEveryBatch;
  const std::uint64_t start = std::strtoull(Arg(argc, argv, "--start", "1"), nullptr, 10);
  const double seconds = std::strtod(Arg(argc, argv, "--seconds", "60"), nullptr);
  std::mt19937_64 rng(std::strtoull(Arg(argc, argv, "--seed", "1"), nullptr, 10));
  auto h = store::History::Open(o);
  if (!h.ok()) {
    std::fprintf(stderr, "history_tool: %s\n", h.error().c_str());
    return 1;
  }
  store::HistoryWriter w(**h, o);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(seconds));
  std::uint64_t i = start;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::uint64_t burst = 50 + rng() % 1000;
    for (std::uint64_t k = 0; k < burst; ++k, ++i) {
      analytics::FlowUpdate u;
      u.key.a = IpAddress::V4(0x0a000000U | static_cast<std::uint32_t>(i & 0xffffff));
      u.key.b = IpAddress::V4(0xc6336401U);
      u.key.a_port = 40000;
      u.key.b_port = 443;
      u.key.proto = 6;
      u.flow_id = i;
      u.at = StreamTime{kT0 + static_cast<std::int64_t>(i) * kMs};
      u.first = StreamTime{u.at.ns - kMs / 2};
      u.last = u.at;
      u.a_to_b = {1, 1000 + i % 50000, 960 + i % 50000};
      u.direction = weighbridge::capture::Direction::kOutbound;
      u.reason = analytics::FlowEndReason::kIdle;
      w.OnFlowUpdate(u);
      if (i % 16 == 0) {
        analytics::Alert a;
        a.id = i;
        a.first_seen = u.first;
        a.last_seen = u.last;
        a.inside = Prefix{u.key.a, 32};
        a.has_inside = true;
        a.external = *Prefix::Parse("198.51.100.0/24");
        a.bytes = 10 * i;
        w.OnAlert(a);
      }
    }
    if (weighbridge::Status s = w.Flush(); !s.ok()) {
      std::fprintf(stderr, "history_tool: flush: %s\n", s.message().c_str());
      return 1;
    }
    const auto st = w.stats();
    if (st.queue_drops != 0) {
      // A drop is not an acknowledged loss, but this test wants every record: say so.
      std::fprintf(stderr, "history_tool: %" PRIu64 " queue drops\n", st.queue_drops);
      return 1;
    }
    std::printf("ack %" PRIu64 "\n", i - 1);
    std::fflush(stdout);
  }
  w.Stop();
  return 0;
}

int Fill(int argc, char** argv) {
  store::HistoryOptions o;
  o.path = Arg(argc, argv, "--db", "");
  o.sync = store::SyncPolicy::kInterval;
  o.queue_capacity = 1 << 20;
  const std::uint64_t n = std::strtoull(Arg(argc, argv, "--updates", "1000000"), nullptr, 10);
  const std::int64_t hours = std::strtoll(Arg(argc, argv, "--hours", "24"), nullptr, 10);
  const std::uint32_t hosts =
      static_cast<std::uint32_t>(std::strtoul(Arg(argc, argv, "--hosts", "500"), nullptr, 10));
  const std::uint32_t groups =
      static_cast<std::uint32_t>(std::strtoul(Arg(argc, argv, "--groups", "2000"), nullptr, 10));
  std::mt19937_64 rng(std::strtoull(Arg(argc, argv, "--seed", "1"), nullptr, 10));
  auto h = store::History::Open(o);
  if (!h.ok()) {
    std::fprintf(stderr, "history_tool: %s\n", h.error().c_str());
    return 1;
  }
  const std::int64_t span = hours * 3600 * 1'000'000'000LL;
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t transfers = 0;
  std::uint64_t alerts = 0;
  {
    store::HistoryWriter w(**h, o);
    for (std::uint64_t i = 0; i < n; ++i) {
      analytics::FlowUpdate u;
      const bool out = rng() % 2 == 0;
      const IpAddress inside =
          IpAddress::V4(0x0a000000U + static_cast<std::uint32_t>(rng() % hosts));
      const IpAddress outside =
          IpAddress::V4(0xc0000000U + (static_cast<std::uint32_t>(rng() % groups) << 8) +
                        static_cast<std::uint32_t>(rng() % 256));
      u.key.a = out ? inside : outside;
      u.key.b = out ? outside : inside;
      u.key.a_port = static_cast<std::uint16_t>(1024 + rng() % 60000);
      u.key.b_port = 443;
      u.key.proto = 6;
      u.flow_id = rng();
      u.at = StreamTime{kT0 +
                        static_cast<std::int64_t>(static_cast<double>(span) *
                                                  static_cast<double>(i) / static_cast<double>(n))};
      u.first = StreamTime{u.at.ns - static_cast<std::int64_t>(rng() % 60'000'000'000ULL)};
      u.last = u.at;
      const std::uint64_t bytes = 1000 + rng() % 100'000'000;
      u.a_to_b = {bytes / 1400 + 1, bytes, bytes - bytes / 30};
      u.b_to_a = {bytes / 2800 + 1, bytes / 50, 0};
      u.direction = out ? weighbridge::capture::Direction::kOutbound
                        : weighbridge::capture::Direction::kInbound;
      u.tenant = static_cast<std::uint16_t>(rng() % 3);
      u.reason = analytics::FlowEndReason::kIdle;
      w.OnFlowUpdate(u);
      if (i % 100 == 0) {
        analytics::Transfer t;
        t.id = rng();
        t.version = 1;
        t.inside = inside;
        t.external = Prefix{outside.Masked(24), 24};
        t.first = u.first;
        t.last = u.last;
        t.sent = u.a_to_b;
        t.received = u.b_to_a;
        t.flows = 1;
        t.ended = true;
        w.OnTransfer(t);
        ++transfers;
      }
      if (i % 1000 == 0) {
        analytics::Alert a;
        a.id = rng();
        a.first_seen = u.first;
        a.last_seen = u.last;
        a.inside = Prefix{inside, 32};
        a.has_inside = true;
        a.external = Prefix{outside.Masked(24), 24};
        a.bytes = bytes;
        a.payload_bytes = bytes;
        a.threshold_bytes = 1ULL << 30;
        w.OnAlert(a);
        ++alerts;
      }
    }
    if (weighbridge::Status s = w.Flush(); !s.ok()) {
      std::fprintf(stderr, "history_tool: %s\n", s.message().c_str());
      return 1;
    }
    const auto st = w.stats();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("records %" PRIu64 " (flow updates %" PRIu64 ", transfers %" PRIu64
                ", alerts %" PRIu64 ") in %.2f s: %.0f records/s, %" PRIu64 " batches, %" PRIu64
                " drops\n",
                st.records_written, n, transfers, alerts, secs,
                static_cast<double>(st.records_written) / secs, st.batches_written, st.queue_drops);
  }
  if (weighbridge::Status s = (*h)->CompactAll(); !s.ok()) {
    std::fprintf(stderr, "history_tool: %s\n", s.message().c_str());
    return 1;
  }
  const std::uint64_t size = DirSize(o.path);
  std::printf("on disk after compaction: %" PRIu64
              " bytes, %.1f bytes per flow update (rollups, "
              "transfers and alerts included)\n",
              size, static_cast<double>(size) / static_cast<double>(n));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view mode = argc > 1 ? argv[1] : "";
  if (mode == "crash-writer") return CrashWriter(argc, argv);
  if (mode == "fill") return Fill(argc, argv);
  std::fprintf(stderr, "usage: history_tool crash-writer|fill --db PATH ...\n");
  return 2;
}
