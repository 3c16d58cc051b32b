#include "weighbridge/capture/site.h"

namespace weighbridge::capture {

const char* DirectionName(Direction d) {
  switch (d) {
    case Direction::kInbound: return "inbound";
    case Direction::kOutbound: return "outbound";
    case Direction::kInternal: return "internal";
    case Direction::kTransit: return "transit";
    case Direction::kCount: break;
  }
  return "unknown";
}

SiteClassifier::SiteClassifier(const SiteOptions& options) {
  for (const Prefix& p : options.inside) inside_.Insert(p, true);
  for (std::size_t i = 0; i < options.tenants.size(); ++i) {
    tenant_names_.push_back(options.tenants[i].name);
    for (const Prefix& p : options.tenants[i].prefixes) {
      tenants_.Insert(p, static_cast<std::uint16_t>(i + 1));
    }
  }
}

void SiteClassifier::Classify(PacketMeta* meta) const noexcept {
  const bool src_in = IsInside(meta->src);
  const bool dst_in = IsInside(meta->dst);
  if (src_in && dst_in) {
    meta->direction = Direction::kInternal;
  } else if (src_in) {
    meta->direction = Direction::kOutbound;
  } else if (dst_in) {
    meta->direction = Direction::kInbound;
  } else {
    meta->direction = Direction::kTransit;
  }
  if (tenants_.empty()) {
    meta->tenant = 0;
    return;
  }
  const std::uint16_t t_src = src_in ? TenantOf(meta->src) : 0;
  meta->tenant = t_src != 0 ? t_src : (dst_in ? TenantOf(meta->dst) : 0);
}

}  // namespace weighbridge::capture
