#include "weighbridge/capture/site.h"

namespace weighbridge::capture {

const char* DirectionName(Direction d) {
  switch (d) {
    case Direction::kInbound:
      return "inbound";
    case Direction::kOutbound:
      return "outbound";
    case Direction::kInternal:
      return "internal";
    case Direction::kTransit:
      return "transit";
    case Direction::kCount:
      break;
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
  Classify(meta->src, meta->dst, &meta->direction, &meta->tenant);
}

void SiteClassifier::Classify(const IpAddress& src, const IpAddress& dst, Direction* direction,
                              std::uint16_t* tenant) const noexcept {
  const bool src_in = IsInside(src);
  const bool dst_in = IsInside(dst);
  if (src_in && dst_in) {
    *direction = Direction::kInternal;
  } else if (src_in) {
    *direction = Direction::kOutbound;
  } else if (dst_in) {
    *direction = Direction::kInbound;
  } else {
    *direction = Direction::kTransit;
  }
  if (tenants_.empty()) {
    *tenant = 0;
    return;
  }
  const std::uint16_t t_src = src_in ? TenantOf(src) : 0;
  *tenant = t_src != 0 ? t_src : (dst_in ? TenantOf(dst) : 0);
}

}  // namespace weighbridge::capture
