// From the config to the detectors: typed options, and the model catalog found on disk.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "weighbridge/analytics/detectors.h"
#include "weighbridge/analytics/model_catalog.h"
#include "weighbridge/analytics/transfer.h"
#include "weighbridge/core/result.h"
#include "weighbridge/store/history.h"

namespace weighbridge::app {

analytics::DetectOptions DetectOptionsFrom(const Config& config);
analytics::SessionizerOptions SessionizerOptionsFrom(const Config& config);
// The history store's options from `history:`, grouping and tenant names from the rest of the
// config.
store::HistoryOptions HistoryOptionsFrom(const Config& config, const std::string& path);

// The catalog of `detect.weight_transfer.catalog`. A relative path is looked for beside the
// config file (or in the working directory without one), then in the shipped config/ directory
// (the source tree's for build/weighbridge, share/weighbridge/config when installed). Errors name
// the file and line.
Result<analytics::ModelCatalog> LoadCatalogFor(const Config& config,
                                               const std::optional<std::string>& config_path);

}  // namespace weighbridge::app
