#include "weighbridge/analytics/model_catalog.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

namespace weighbridge::analytics {

std::uint64_t ModelCatalog::SizeBytes(double params, const DtypeSpec& dtype) {
  // Doubles hold integers exactly up to 2^53 (9 PB), far above any model; llround keeps the
  // result independent of how the product happens to round down.
  const double bytes = params * dtype.bits_per_param / 8.0 * (1.0 + dtype.overhead_fraction);
  return static_cast<std::uint64_t>(std::llround(bytes));
}

Result<ModelCatalog> ModelCatalog::Build(ModelCatalogSpec spec) {
  std::set<std::string> dtype_names;
  for (const DtypeSpec& d : spec.dtypes) {
    if (d.name.empty()) return Status::Error("model catalog: a dtype has no name");
    if (!dtype_names.insert(d.name).second) {
      return Status::Error("model catalog: dtype \"" + d.name + "\" is defined twice");
    }
    if (!(d.bits_per_param > 0 && d.bits_per_param <= 64)) {
      return Status::Error("model catalog: dtype \"" + d.name +
                           "\": bits per parameter must be in (0, 64]");
    }
    if (!(d.overhead_fraction >= 0 && d.overhead_fraction <= 1)) {
      return Status::Error("model catalog: dtype \"" + d.name + "\": overhead must be 0%-100%");
    }
  }
  std::set<std::string> model_names;
  ModelCatalog c;
  for (std::uint32_t m = 0; m < spec.models.size(); ++m) {
    const ModelSpec& ms = spec.models[m];
    if (ms.name.empty()) return Status::Error("model catalog: a model has no name");
    if (!model_names.insert(ms.name).second) {
      return Status::Error("model catalog: model \"" + ms.name + "\" is listed twice");
    }
    // Below 1e6 is almost certainly "8.03" meant as billions; above 1e14 is no published model.
    if (!(ms.params >= 1e6 && ms.params <= 1e14)) {
      return Status::Error("model catalog: model \"" + ms.name +
                           "\": params must be a count between 1e6 and 1e14");
    }
    std::vector<std::uint32_t> which;
    if (ms.dtypes.empty()) {
      for (std::uint32_t d = 0; d < spec.dtypes.size(); ++d) which.push_back(d);
    } else {
      for (const std::string& name : ms.dtypes) {
        auto it = std::find_if(spec.dtypes.begin(), spec.dtypes.end(),
                               [&](const DtypeSpec& d) { return d.name == name; });
        if (it == spec.dtypes.end()) {
          return Status::Error("model catalog: model \"" + ms.name + "\" lists dtype \"" + name +
                               "\", which is not defined");
        }
        which.push_back(static_cast<std::uint32_t>(it - spec.dtypes.begin()));
      }
    }
    for (std::uint32_t d : which) {
      c.by_size_.push_back(ModelCandidate{m, d, SizeBytes(ms.params, spec.dtypes[d])});
    }
  }
  // Stable, so equal sizes keep spec order: the first listed wins ties in Match.
  std::stable_sort(
      c.by_size_.begin(), c.by_size_.end(),
      [](const ModelCandidate& x, const ModelCandidate& y) { return x.bytes < y.bytes; });
  c.spec_ = std::move(spec);
  return c;
}

std::optional<ModelMatch> ModelCatalog::Match(std::uint64_t payload_bytes,
                                              double tolerance_fraction) const {
  std::vector<ModelMatch> m = Matches(payload_bytes, tolerance_fraction, 1);
  if (m.empty()) return std::nullopt;
  return std::move(m.front());
}

std::vector<ModelMatch> ModelCatalog::Matches(std::uint64_t payload_bytes,
                                              double tolerance_fraction, std::size_t max) const {
  std::vector<ModelMatch> out;
  if (by_size_.empty() || payload_bytes == 0 || !(tolerance_fraction >= 0) || max == 0) {
    return out;
  }
  const double payload = static_cast<double>(payload_bytes);
  // A relative slack far below any meaningful tolerance, so that a size exactly at the tolerance
  // (e.g. +2.00%) matches despite rounding in the division.
  const double tol = tolerance_fraction + 1e-12;
  // Only sizes in [payload / (1 + tol), payload / (1 - tol)] can be within tolerance.
  const double lo = payload / (1.0 + tol);
  auto it = std::lower_bound(
      by_size_.begin(), by_size_.end(), lo,
      [](const ModelCandidate& c, double v) { return static_cast<double>(c.bytes) < v; });
  std::vector<std::pair<double, const ModelCandidate*>> within;
  for (; it != by_size_.end(); ++it) {
    const double size = static_cast<double>(it->bytes);
    const double err = std::fabs(payload - size) / size;
    if (size > payload && err > tol) break;  // sorted: every later one is worse
    if (err > tol) continue;
    within.emplace_back(err, &*it);
  }
  // Smallest error first; ties to the candidate listed first (model order, then dtype order).
  std::sort(within.begin(), within.end(), [](const auto& x, const auto& y) {
    if (x.first != y.first) return x.first < y.first;
    if (x.second->model != y.second->model) return x.second->model < y.second->model;
    return x.second->dtype < y.second->dtype;
  });
  if (within.size() > max) within.resize(max);
  for (const auto& [err, c] : within) {
    const ModelSpec& m = spec_.models[c->model];
    ModelMatch match;
    match.name = m.name;
    match.params = m.params;
    match.dtype = spec_.dtypes[c->dtype].name;
    match.bytes = c->bytes;
    match.error_pct =
        (payload - static_cast<double>(c->bytes)) / static_cast<double>(c->bytes) * 100.0;
    out.push_back(std::move(match));
  }
  return out;
}

}  // namespace weighbridge::analytics
