#include "mmu/hybrid_mmu.h"

namespace densevm {

HybridMmu::HybridMmu(GuestMemory& memory, PageTracking& tracking, PagingMode mode,
                     ShadowConfig shadow_config, MmuPolicyConfig policy_config)
    : mode_(mode),
      shadow_(memory, tracking, shadow_config),
      nested_(memory, tracking),
      policy_(policy_config),
      active_(mode == PagingMode::kEpt ? static_cast<Mmu*>(&nested_) : &shadow_) {}

void HybridMmu::set_tlb_flush(std::function<void()> flush) {
  flush_tlb_ = flush;
  shadow_.set_tlb_flush(std::move(flush));
}

Translation HybridMmu::translate(Gva va, Access access, const PagingContext& ctx) {
  ++stats_.translations;
  Translation t = active_->translate(va, access, ctx);
  // The switch happens after the answer: it stays valid (it came from the P2M as it is now).
  if (mode_ == PagingMode::kAuto && ++window_misses_ >= policy_.config().window_misses) end_window();
  return t;
}

void HybridMmu::end_window() {
  ++stats_.windows;
  const ShadowStats now = shadow_.stats();
  MmuPolicy::Decision decision = MmuPolicy::Decision::kStay;
  if (shadow_active()) {
    const ShadowWindow w{window_misses_, now.walk_refs() - window_start_.walk_refs(),
                         now.emulated_pt_writes - window_start_.emulated_pt_writes,
                         now.tables_created - window_start_.tables_created,
                         now.unsync_resyncs - window_start_.unsync_resyncs};
    decision = policy_.after_shadow_window(w);
  } else {
    decision = policy_.after_nested_window();
  }
  window_misses_ = 0;
  if (decision == MmuPolicy::Decision::kToNested) switch_to(nested_);
  if (decision == MmuPolicy::Decision::kToShadow) switch_to(shadow_);
  window_start_ = shadow_.stats();
}

void HybridMmu::switch_to(Mmu& next) {
  if (active_ == &next) return;
  // Nested mode needs no write-tracking of guest tables: drop it all, so writes run free.
  if (active_ == &shadow_) shadow_.drop_all();
  active_ = &next;
  ++stats_.mode_switches;
  if (flush_tlb_) flush_tlb_();
}

HybridStats HybridMmu::stats() const {
  HybridStats s = stats_;
  const ShadowStats sh = shadow_.stats();
  const WalkCounters& ne = nested_.counters();
  s.walk_refs = sh.walk_refs() + ne.memory_references;
  s.walks = sh.sync_faults + sh.guest_page_faults + ne.walks;
  s.guest_page_faults = sh.guest_page_faults + ne.guest_page_faults;
  s.demand_faults = sh.demand_faults + ne.demand_faults;
  return s;
}

}  // namespace densevm
