// Reads the model-size catalog (config/models.yaml and any user files after it) into the
// analytics::ModelCatalogSpec that analytics::ModelCatalog::Build takes. app/ only, at start-up.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "weighbridge/analytics/model_catalog.h"
#include "weighbridge/core/result.h"

namespace weighbridge::app {

// Strict: unknown keys, missing required keys and bad values are errors of the form
// "FILE:LINE:COL: models[3].params: what was wrong (what is accepted)", one per line in the
// message. Later files add dtypes and models; redefining a name is an error.
Result<analytics::ModelCatalogSpec> LoadModelCatalog(const std::vector<std::string>& paths);
// One document held in memory; `name` stands in for the file name. Appends to `spec`.
Status ParseModelCatalogText(std::string_view text, std::string_view name,
                             analytics::ModelCatalogSpec* spec);
// "8.03B" -> 8.03e9: a decimal number with an optional K, M, B or T suffix. False if malformed.
bool ParseParamCount(std::string_view text, double* params);

}  // namespace weighbridge::app
