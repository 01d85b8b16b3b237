#include "mmu/mmu_policy.h"

#include <algorithm>

namespace densevm {

std::optional<PagingMode> parse_paging_mode(std::string_view name) {
  if (name == "shadow") return PagingMode::kShadow;
  if (name == "ept") return PagingMode::kEpt;
  if (name == "auto") return PagingMode::kAuto;
  return std::nullopt;
}

const char* paging_mode_name(PagingMode mode) {
  switch (mode) {
    case PagingMode::kShadow: return "shadow";
    case PagingMode::kEpt: return "ept";
    case PagingMode::kAuto: return "auto";
  }
  return "?";
}

MmuPolicy::Decision MmuPolicy::after_shadow_window(const ShadowWindow& w) {
  const bool too_costly = shadow_cost(w, config_) > w.misses * config_.nested_refs_per_miss;
  if (!too_costly) {
    if (on_probation_) backoff_ = config_.min_nested_windows;
    on_probation_ = false;
    return Decision::kStay;
  }
  if (on_probation_) {
    backoff_ = std::min(backoff_ * 2, config_.max_nested_windows);
  }
  on_probation_ = false;
  nested_windows_ = 0;
  return Decision::kToNested;
}

MmuPolicy::Decision MmuPolicy::after_nested_window() {
  if (++nested_windows_ < backoff_) return Decision::kStay;
  nested_windows_ = 0;
  on_probation_ = true;
  return Decision::kToShadow;
}

}  // namespace densevm
