// HybridMmu: the VM's Mmu for every --mmu mode. It owns a ShadowMmu and a NestedMmu and
// sends each soft-TLB miss to the active one: pinned to one for "shadow" and "ept", switched
// by MmuPolicy for "auto". Leaving shadow mode frees every shadow table and stops tracking
// guest page tables; either switch flushes the vCPU's soft TLB.
//
//   HybridMmu mmu(memory, tracking, PagingMode::kAuto);
//   Vcpu cpu(mmu, bus, tracking, &mmu);             // also the WriteTracker
//   mmu.set_tlb_flush([&cpu] { cpu.flush_tlb(); });
#pragma once

#include <cstdint>
#include <functional>

#include "mmu/mmu_policy.h"
#include "mmu/nested_mmu.h"
#include "mmu/shadow_mmu.h"

namespace densevm {

struct HybridStats {
  uint64_t translations = 0;
  uint64_t mode_switches = 0;
  uint64_t windows = 0;
  uint64_t walk_refs = 0;  // TLB-miss references of both modes
  uint64_t walks = 0;      // shadow guest walks + nested walks
  uint64_t guest_page_faults = 0;
  uint64_t demand_faults = 0;
};

class HybridMmu final : public Mmu, public WriteTracker {
 public:
  HybridMmu(GuestMemory& memory, PageTracking& tracking, PagingMode mode,
            ShadowConfig shadow_config = {}, MmuPolicyConfig policy_config = {});

  [[nodiscard]] Translation translate(Gva va, Access access, const PagingContext& ctx) override;
  void invlpg(Gva va, const PagingContext& ctx) override { active_->invlpg(va, ctx); }
  void cr3_loaded(const PagingContext& ctx) override { active_->cr3_loaded(ctx); }
  // The active mode: "shadow" or "ept".
  [[nodiscard]] const char* mode_name() const override { return active_->mode_name(); }

  void on_tracked_write(Gpa gpa, unsigned size) override { shadow_.on_tracked_write(gpa, size); }

  void set_tlb_flush(std::function<void()> flush);

  [[nodiscard]] PagingMode configured_mode() const { return mode_; }
  [[nodiscard]] bool shadow_active() const { return active_ == &shadow_; }
  [[nodiscard]] HybridStats stats() const;
  [[nodiscard]] ShadowStats shadow_stats() const { return shadow_.stats(); }
  [[nodiscard]] const WalkCounters& nested_stats() const { return nested_.counters(); }
  [[nodiscard]] const ShadowMmu& shadow() const { return shadow_; }

 private:
  void end_window();
  void switch_to(Mmu& next);

  PagingMode mode_;
  ShadowMmu shadow_;
  NestedMmu nested_;
  MmuPolicy policy_;
  Mmu* active_;
  std::function<void()> flush_tlb_;
  uint64_t window_misses_ = 0;
  ShadowStats window_start_;
  HybridStats stats_;
};

}  // namespace densevm
