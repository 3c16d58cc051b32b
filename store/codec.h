// The store's binary formats: keys (big-endian, time first, so that a time range is one key
// range) and compact versioned values (varints, deltas against the key's time). docs/history.md
// lists them. Decoders never trust their input: every read is bounded and every enum checked.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "weighbridge/analytics/alert.h"
#include "weighbridge/analytics/flow.h"
#include "weighbridge/analytics/transfer.h"
#include "weighbridge/store/history.h"

namespace weighbridge::store::internal {

// First byte of every value: the encoding's version. A decoder refuses versions it does not know,
// and reads every older one. 2: transfers end with their sampling error, alerts with theirs and
// their model alternatives.
inline constexpr std::uint8_t kValueVersion = 2;

// Stream time as 8 big-endian bytes that sort like the signed number (sign bit flipped).
void PutTime(std::string* out, std::int64_t ns);
std::int64_t GetTime(const char* p);
void PutBe64(std::string* out, std::uint64_t v);
void PutBe32(std::string* out, std::uint32_t v);
std::uint64_t GetBe64(const char* p);
std::uint32_t GetBe32(const char* p);

// flows: at(8) flow_id(8) seq(8). seq makes two updates of one flow at one instant distinct.
inline constexpr std::size_t kFlowKeySize = 24;
std::string FlowKey(std::int64_t at_ns, std::uint64_t flow_id, std::uint64_t seq);
// transfers: first(8) id(8); rewritten when a later version moves `first` earlier.
inline constexpr std::size_t kTransferKeySize = 16;
std::string TransferKey(std::int64_t first_ns, std::uint64_t id);
// alerts: last_seen(8) id(8) version(4): every version is its own record.
inline constexpr std::size_t kAlertKeySize = 20;
std::string AlertKey(std::int64_t last_seen_ns, std::uint64_t id, std::uint32_t version);
// rollups: step(1) time(8) entity(1) address(16) prefix length(1).
inline constexpr std::size_t kRollupKeySize = 27;
std::string RollupKey(RollupStep step, std::int64_t start_ns, RollupEntity entity,
                      const Prefix& subject);
// The smallest rollup key of `step` at or after `ns`.
std::string RollupTimeKey(RollupStep step, std::int64_t ns);
bool ParseRollupKey(std::string_view key, RollupStep* step, std::int64_t* start_ns,
                    RollupEntity* entity, Prefix* subject);
// The smallest key of any time-keyed family at or after `ns`.
std::string TimeKey(std::int64_t ns);

std::string EncodeFlowUpdate(const analytics::FlowUpdate& u);
bool DecodeFlowUpdate(std::string_view value, analytics::FlowUpdate* u);
std::string EncodeTransfer(const analytics::Transfer& t);
bool DecodeTransfer(std::string_view value, analytics::Transfer* t);
std::string EncodeAlert(const analytics::Alert& a);
bool DecodeAlert(std::string_view value, analytics::Alert* a);
// Rollup values: version, tenant, then the counters as varints. Added up by the merge operator.
std::string EncodeRollup(std::uint16_t tenant, const RollupCounters& c);
bool DecodeRollup(std::string_view value, std::uint16_t* tenant, RollupCounters* c);

}  // namespace weighbridge::store::internal
