// DedupScope: which guests may share a frame through content-hash page sharing.
//
// Zero pages are shared in every scope: they carry no information between guests.
//
//   DedupConfig config{.scope = DedupScope::kGroup};
//   dedup.add(vm.memory(), /*group=*/vm.id() % groups);
//   bool crosses = config.scope == DedupScope::kHost;
#pragma once

#include <cstdint>

namespace densevm {

enum class DedupScope : uint8_t {
  kHost,   // any guest with any guest
  kGroup,  // guests added with the same group
  kVm,     // pages of one guest only
};

}  // namespace densevm
