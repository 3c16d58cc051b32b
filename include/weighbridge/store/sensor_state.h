// What a daemon keeps across a restart, in the history store's `state` column family: the
// sessionizer's open transfers and the detector engine's state (tracked transfers, ingest and
// staging windows, active alerts, train_and_return memory). Encoded compactly and versioned;
// a blob this build cannot read is refused, never half-applied.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weighbridge/analytics/detectors.h"
#include "weighbridge/analytics/transfer.h"

namespace weighbridge::store {

// The name the daemon stores it under (History::PutState / HistoryWriter::SaveState).
inline constexpr std::string_view kSensorStateName = "sensor";

struct SensorState {
  std::vector<analytics::OpenTransferState> open_transfers;
  analytics::DetectorState detector;
};

std::string EncodeSensorState(const SensorState& state);
// Nullopt when the blob is not a sensor state this build can read (corrupt, or a newer version).
std::optional<SensorState> DecodeSensorState(std::string_view blob);

}  // namespace weighbridge::store
