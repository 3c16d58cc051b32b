// A sensor's state across restarts (the daemon, and resumable replays with --db): open transfers
// and detector state, saved in the history store and restored before the first packet.
#pragma once

#include <string>

#include "weighbridge/analytics/detectors.h"
#include "weighbridge/analytics/transfer.h"
#include "weighbridge/core/result.h"
#include "weighbridge/store/history.h"

namespace weighbridge::app {

std::string EncodeSensorState(const analytics::Sessionizer& sessionizer,
                              const analytics::DetectorEngine& engine);

// Before the first packet: the open transfers and detector state the last run saved (nothing on
// a first start). Logs what it restored.
Status RestoreSensorState(const store::History& history, analytics::Sessionizer* sessionizer,
                          analytics::DetectorEngine* engine);

}  // namespace weighbridge::app
