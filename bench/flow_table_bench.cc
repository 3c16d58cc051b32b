// The aggregator alone: one shard's FlowTable fed pre-decoded packets from memory, at 1k, 100k
// and 1M concurrent flows. Reports packets per second per worker and the table's bytes per
// tracked flow.
#include <benchmark/benchmark.h>

#include <vector>

#include "weighbridge/analytics/flow_table.h"

namespace weighbridge::analytics {
namespace {

class NullSink : public FlowSink {
 public:
  void OnFlowUpdate(const FlowUpdate& u) override { benchmark::DoNotOptimize(u.flow_id); }
};

std::vector<capture::PacketMeta> Packets(std::size_t flows, std::size_t count) {
  std::vector<capture::PacketMeta> out(count);
  std::uint64_t x = 12345;
  for (std::size_t i = 0; i < count; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const std::uint32_t f = static_cast<std::uint32_t>((x >> 33) % flows);
    capture::PacketMeta& m = out[i];
    m.ts = StreamTime::FromNanos(1'700'000'000LL * kNanosPerSecond +
                                 static_cast<std::int64_t>(i) * 100);
    m.src = IpAddress::V4(0x0a000000u + f);
    m.dst = IpAddress::V4(0xc6336401u);
    m.src_port = static_cast<std::uint16_t>(1024 + (f & 0x7fff));
    m.dst_port = 443;
    m.proto = 6;
    m.tcp_seq = static_cast<std::uint32_t>(i) * 1448u;
    m.payload_bytes = 1448;
    m.l3_bytes = 1500;
    m.wire_bytes = 1514;
    m.tcp_flags = capture::kTcpAck;
  }
  return out;
}

void BM_FlowTableAccount(benchmark::State& state) {
  const auto flows = static_cast<std::size_t>(state.range(0));
  const auto pkts = Packets(flows, 1 << 22);
  PipelineOptions opt;
  NullSink sink;
  FlowTable table(opt, flows, &sink);           // sized exactly: memory per flow at full load
  for (const auto& m : pkts) table.Account(m);  // warm: every flow present
  std::vector<capture::PacketMeta> burst(256);
  std::size_t i = 0;
  for (auto _ : state) {
    // As a shard worker gets them: a burst copied out of its ring, hashes not yet computed.
    for (auto& m : burst) m = pkts[i++ & (pkts.size() - 1)];
    table.AccountBurst(burst);
    table.AdvanceTo(burst.back().ts);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 256);
  state.counters["flows"] = static_cast<double>(table.size());
  state.counters["bytes_per_flow"] =
      static_cast<double>(FlowTable::BytesPerSlot() * table.slot_count()) /
      static_cast<double>(flows);
}
BENCHMARK(BM_FlowTableAccount)->Arg(1000)->Arg(100'000)->Arg(1'000'000);

}  // namespace
}  // namespace weighbridge::analytics

BENCHMARK_MAIN();
