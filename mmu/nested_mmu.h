// NestedMmu: the nested-paging Mmu. Every soft-TLB miss is a two-dimensional walk (the guest's
// tables through the EPT-format P2M: walk_guest); EPT violations are resolved and the walk is
// tried again (walk_and_resolve, the loop the shadow MMU's hidden faults share).
//
//   NestedMmu mmu(memory, tracking);
//   Vcpu cpu(mmu, bus, tracking);
//   uint64_t refs = mmu.counters().memory_references;
#pragma once

#include "core/page_tracking.h"
#include "mmu/guest_memory.h"
#include "mmu/mmu.h"
#include "mmu/walk_and_resolve.h"

namespace densevm {

class NestedMmu final : public Mmu {
 public:
  NestedMmu(GuestMemory& memory, PageTracking& tracking) : memory_(memory), tracking_(tracking) {}

  [[nodiscard]] Translation translate(Gva va, Access access, const PagingContext& ctx) override {
    return walk_and_resolve(memory_, tracking_, va, access, ctx, counters_, [](GuestWalk&) {});
  }
  void invlpg(Gva, const PagingContext&) override {}
  void cr3_loaded(const PagingContext&) override {}
  [[nodiscard]] const char* mode_name() const override { return "ept"; }

  [[nodiscard]] const WalkCounters& counters() const { return counters_; }

 private:
  GuestMemory& memory_;
  PageTracking& tracking_;
  WalkCounters counters_;
};

}  // namespace densevm
