#include "detect_setup.h"

#include <unistd.h>

#include <filesystem>

#include "model_catalog_yaml.h"

namespace weighbridge::app {

namespace fs = std::filesystem;

analytics::DetectOptions DetectOptionsFrom(const Config& c) {
  analytics::DetectOptions d;
  const DetectConfig& in = c.detect;
  d.weight_transfer.min_size_bytes = in.weight_transfer.min_size_bytes;
  d.weight_transfer.tolerance_fraction =
      static_cast<double>(in.weight_transfer.tolerance_basis_points) / 10000.0;
  d.ingest.ipv4_group_len = in.ingest.external_group.ipv4_prefix_len;
  d.ingest.ipv6_group_len = in.ingest.external_group.ipv6_prefix_len;
  d.ingest.windows.clear();
  for (const IngestWindowConfig& w : in.ingest.windows) {
    d.ingest.windows.push_back({w.window_ns, w.threshold_bytes});
  }
  d.staging.window_ns = in.staging.window_ns;
  d.staging.threshold_bytes = in.staging.threshold_bytes;
  d.staging.storage = in.staging.storage;
  d.staging.baseline_ns = in.staging.baseline_ns;
  d.staging.baseline_max_bytes = in.staging.baseline_max_bytes;
  d.sensitive_tenants = in.sensitive.tenants;
  d.sensitive_prefixes = in.sensitive.prefixes;
  d.train_and_return.within_ns = in.train_and_return.within_ns;
  for (const AllowRuleConfig& a : in.allow) d.allow.push_back({a.name, a.prefixes, a.directions});
  for (const capture::TenantOptions& t : c.site.tenants) d.tenant_names.push_back(t.name);
  return d;
}

analytics::SessionizerOptions SessionizerOptionsFrom(const Config& c) {
  analytics::SessionizerOptions s;
  s.gap_ns = c.detect.weight_transfer.gap_ns;
  s.ipv4_group_len = c.detect.weight_transfer.external_group.ipv4_prefix_len;
  s.ipv6_group_len = c.detect.weight_transfer.external_group.ipv6_prefix_len;
  s.max_update_delay_ns = analytics::MaxFirstUpdateDelayNs(c.pipeline);
  for (const PeerGroupConfig& g : c.detect.peer_groups)
    s.named_groups.push_back({g.name, g.prefixes});
  return s;
}

store::HistoryOptions HistoryOptionsFrom(const Config& c, const std::string& path) {
  store::HistoryOptions h;
  h.path = path;
  h.flows_retention_ns = c.history.retention_ns;
  h.rollups_retention_ns = c.history.retention_ns;
  h.transfers_retention_ns = c.history.transfers_retention_ns;
  h.alerts_retention_ns = c.history.alerts_retention_ns;
  h.size_budget_bytes = c.history.size_budget_bytes;
  h.sync =
      c.history.sync == "interval" ? store::SyncPolicy::kInterval : store::SyncPolicy::kEveryBatch;
  h.sync_interval_ns = c.history.sync_interval_ns;
  h.queue_capacity = c.history.queue_capacity;
  h.ipv4_group_len = c.detect.weight_transfer.external_group.ipv4_prefix_len;
  h.ipv6_group_len = c.detect.weight_transfer.external_group.ipv6_prefix_len;
  for (const capture::TenantOptions& t : c.site.tenants) h.tenant_names.push_back(t.name);
  return h;
}

namespace {

// The directory holding the shipped config files: <prefix>/share/weighbridge/config when
// installed, the source tree's config/ for build/weighbridge.
std::optional<fs::path> ShippedConfigDir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return std::nullopt;
  for (const fs::path& candidate :
       {exe.parent_path().parent_path() / "config",
        exe.parent_path().parent_path() / "share" / "weighbridge" / "config"}) {
    if (fs::is_regular_file(candidate / "models.yaml", ec)) return candidate;
  }
  return std::nullopt;
}

}  // namespace

Result<analytics::ModelCatalog> LoadCatalogFor(const Config& config,
                                               const std::optional<std::string>& config_path) {
  auto resolve = [&](const std::string& name, bool shipped_fallback) {
    fs::path path = name;
    if (path.is_relative()) {
      // Beside the config file first; then (for the main catalog) the one shipped with
      // weighbridge.
      std::error_code ec;
      const fs::path beside = config_path ? fs::path(*config_path).parent_path() / path : path;
      if (fs::is_regular_file(beside, ec)) {
        path = beside;
      } else if (auto dir = ShippedConfigDir(); dir && shipped_fallback) {
        path = *dir / path.filename();
      } else {
        path = beside;
      }
    }
    return path.string();
  };
  std::vector<std::string> paths = {resolve(config.detect.weight_transfer.catalog, true)};
  for (const std::string& extra : config.detect.weight_transfer.extra_catalogs) {
    paths.push_back(resolve(extra, false));
  }
  auto spec = LoadModelCatalog(paths);
  if (!spec.ok()) return spec.status();
  return analytics::ModelCatalog::Build(std::move(*spec));
}

}  // namespace weighbridge::app
