// The site's own address space: which prefixes are inside the data centre, and which tenant owns
// them. Decides each packet's Direction and tenant by longest-prefix match.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "weighbridge/capture/packet_meta.h"
#include "weighbridge/core/ip.h"

namespace weighbridge::capture {

struct TenantOptions {
  std::string name;
  std::vector<Prefix> prefixes;
  friend bool operator==(const TenantOptions&, const TenantOptions&) = default;
};

// Filled in by app/ from `site:` in the config.
struct SiteOptions {
  std::vector<Prefix> inside;
  std::vector<TenantOptions> tenants;
  friend bool operator==(const SiteOptions&, const SiteOptions&) = default;
};

// The direction of the reverse packet: inbound and outbound swap; internal and transit stay.
inline Direction Reverse(Direction d) {
  return d == Direction::kInbound    ? Direction::kOutbound
         : d == Direction::kOutbound ? Direction::kInbound
                                     : d;
}

// Read-only after construction; safe to share between capture threads.
class SiteClassifier {
 public:
  SiteClassifier() = default;
  explicit SiteClassifier(const SiteOptions& options);

  bool IsInside(const IpAddress& a) const { return inside_.Lookup(a) != nullptr; }
  // Index + 1 into SiteOptions::tenants of the longest matching tenant prefix; 0 for none.
  std::uint16_t TenantOf(const IpAddress& a) const {
    const std::uint16_t* t = tenants_.Lookup(a);
    return t == nullptr ? 0 : *t;
  }
  // Sets meta->direction and meta->tenant (the tenant of the inside end; for internal traffic the
  // source's tenant, else the destination's).
  void Classify(PacketMeta* meta) const noexcept;
  void Classify(const IpAddress& src, const IpAddress& dst, Direction* direction,
                std::uint16_t* tenant) const noexcept;
  const std::vector<std::string>& tenant_names() const { return tenant_names_; }

 private:
  PrefixMap<bool> inside_;
  PrefixMap<std::uint16_t> tenants_;
  std::vector<std::string> tenant_names_;
};

}  // namespace weighbridge::capture
