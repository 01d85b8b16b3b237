// NestedMmu: the nested-paging Mmu. Every soft-TLB miss is a two-dimensional walk (guest
// tables through the EPT-format P2M); EPT violations for untouched RAM are resolved here by
// demand paging, device space becomes an MMIO access, and anything else stops the VM.
//
//   NestedMmu mmu(memory, tracking);
//   Vcpu cpu(mmu, bus, tracking);
//   uint64_t refs = mmu.walk_stats().memory_references;
#pragma once

#include "ept/nested_walker.h"
#include "vmm/guest_memory.h"
#include "vmm/mmu.h"
#include "vmm/page_tracking.h"

namespace densevm {

class NestedMmu final : public Mmu {
 public:
  NestedMmu(GuestMemory& memory, PageTracking& tracking)
      : memory_(memory), tracking_(tracking), walker_(memory.p2m()) {}

  [[nodiscard]] Translation translate(Gva va, Access access, const PagingContext& ctx) override;
  void invlpg(Gva, const PagingContext&) override {}
  void cr3_loaded(const PagingContext&) override {}
  [[nodiscard]] const char* mode_name() const override { return "ept"; }

  [[nodiscard]] const NestedWalkStats& walk_stats() const { return walker_.stats(); }
  [[nodiscard]] uint64_t demand_faults() const { return demand_faults_; }

 private:
  GuestMemory& memory_;
  PageTracking& tracking_;
  NestedWalker walker_;
  uint64_t demand_faults_ = 0;
};

}  // namespace densevm
