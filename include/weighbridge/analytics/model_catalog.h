// ModelCatalog: the published sizes of model weights, so a transfer's payload can be named
// ("16.06 GB is Llama-3.1-8B in bf16, 0.1% off"). Built from a parsed spec (app/ reads
// config/models.yaml into ModelCatalogSpec); immutable afterwards and safe to share.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "weighbridge/analytics/alert.h"
#include "weighbridge/core/result.h"

namespace weighbridge::analytics {

// A storage format: bits per parameter, plus a relative overhead for what the format stores
// besides the weights (file headers, per-tensor scales not already counted in the bits).
struct DtypeSpec {
  std::string name;              // e.g. "bf16/fp16", "gguf-q4_k_m"
  double bits_per_param = 0;     // > 0; GGUF k-quants are averages over a whole model
  double overhead_fraction = 0;  // >= 0; 0.01 means +1%
  friend bool operator==(const DtypeSpec&, const DtypeSpec&) = default;
};

// One model as published: its parameter count from its own card.
struct ModelSpec {
  std::string name;                 // unique, e.g. "Llama-3.1-8B"
  double params = 0;                // > 0; a count (8.03e9), not billions
  bool moe = false;                 // mixture-of-experts (params is the total, not active)
  std::string source;               // where the count comes from (the card), for people
  std::vector<std::string> dtypes;  // formats it ships in; empty: every dtype in the catalog
  friend bool operator==(const ModelSpec&, const ModelSpec&) = default;
};

struct ModelCatalogSpec {
  std::vector<DtypeSpec> dtypes;
  std::vector<ModelSpec> models;
  friend bool operator==(const ModelCatalogSpec&, const ModelCatalogSpec&) = default;
};

// One (model, dtype) pair and its size in bytes.
struct ModelCandidate {
  std::uint32_t model = 0;  // index into spec().models
  std::uint32_t dtype = 0;  // index into spec().dtypes
  std::uint64_t bytes = 0;  // params * bits / 8 * (1 + overhead), rounded to the nearest byte
};

class ModelCatalog {
 public:
  ModelCatalog() = default;  // empty: matches nothing
  // Checks the spec (unique non-empty names, params and bits > 0, overhead >= 0, every listed
  // dtype defined) and expands every model by every applicable dtype. Errors name the entry.
  static Result<ModelCatalog> Build(ModelCatalogSpec spec);

  // The size params * bits_per_param / 8 * (1 + overhead_fraction), in bytes (rounded).
  static std::uint64_t SizeBytes(double params, const DtypeSpec& dtype);

  // The candidate with the smallest relative error |payload - size| / size, if that error is
  // <= tolerance_fraction (0.02 for 2%). Ties go to the candidate listed first (model order in
  // the spec, then dtype order). Sharded weights are the sum of their shards, which is what a
  // transfer's payload already is.
  std::optional<ModelMatch> Match(std::uint64_t payload_bytes, double tolerance_fraction) const;
  // Every candidate within the tolerance, best first in Match's order, at most `max` of them
  // (Match is the first). A size is rarely unique to one model: this says what else it could be.
  std::vector<ModelMatch> Matches(std::uint64_t payload_bytes, double tolerance_fraction,
                                  std::size_t max) const;

  const ModelCatalogSpec& spec() const { return spec_; }
  const std::vector<ModelCandidate>& candidates() const { return by_size_; }  // sorted by bytes
  bool empty() const { return by_size_.empty(); }

 private:
  ModelCatalogSpec spec_;
  std::vector<ModelCandidate> by_size_;
};

}  // namespace weighbridge::analytics
