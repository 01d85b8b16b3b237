// ShadowMmu: the shadow-paging Mmu. Each guest address space (CR3) gets a cached shadow
// table mapping GVA -> HPA in real x86-64 format, so a soft-TLB miss costs at most four
// references instead of a 24-reference nested walk.
//
// A shadow entry's rights are the guest's AND the EPT's AND "not write-tracked"; guest A and
// D bits are set exactly when the processor would (a leaf is writable only after a walk for
// a write set D). Guest tables the shadow was built from are write-tracked: the vCPU reports
// each write after performing it, and the entries derived from it are dropped. Leaf tables
// written often go out of sync (KVM, Xen shadow-3) and are resynced at INVLPG and CR3 loads;
// tables written but never walked are unshadowed (write flooding). EPT changes arrive as a
// P2mListener and drop exactly the leaves the reverse map names, then flush the soft TLB;
// a change wider than everything the shadow maps (a checkpoint restricting the top-level
// EPT entry) retires every shadow table at once instead, and fills free them afterwards.
//
//   ShadowMmu mmu(memory, tracking);
//   Vcpu cpu(mmu, bus, tracking, &mmu);           // mmu is also the WriteTracker
//   mmu.set_tlb_flush([&cpu] { cpu.flush_tlb(); });
#pragma once

#include <cstdint>
#include <functional>

#include "core/page_tracking.h"
#include "mmu/guest_memory.h"
#include "mmu/mmu.h"
#include "mmu/shadow_stats.h"
#include "mmu/walk_and_resolve.h"
#include "shadow-pt/shadow_page_tables.h"
#include "shadow-pt/shadow_root_cache.h"

namespace densevm {

struct ShadowConfig {
  size_t max_roots = 8;              // cached guest address spaces
  uint64_t max_tables = 4096;        // shadow table frames (16 MiB) across all roots
  uint32_t unsync_after_writes = 2;  // a leaf table goes out of sync; 0: never
  uint32_t flood_after_writes = 3;   // a table written this often unwalked is dropped; 0: never
};

class ShadowMmu final : public Mmu, public WriteTracker, public P2mListener {
 public:
  // Registers with memory's P2M as a listener for as long as it lives.
  ShadowMmu(GuestMemory& memory, PageTracking& tracking, ShadowConfig config = {});
  ~ShadowMmu() override;
  ShadowMmu(const ShadowMmu&) = delete;
  ShadowMmu& operator=(const ShadowMmu&) = delete;

  [[nodiscard]] Translation translate(Gva va, Access access, const PagingContext& ctx) override;
  void invlpg(Gva va, const PagingContext& ctx) override;
  void cr3_loaded(const PagingContext& ctx) override;
  [[nodiscard]] const char* mode_name() const override { return "shadow"; }

  void on_tracked_write(Gpa gpa, unsigned size) override;
  void on_p2m_change(Gpa begin, Gpa end, P2mChange change) override;

  // Called when soft-TLB entries the vCPU holds may be wrong: wire to Vcpu::flush_tlb().
  void set_tlb_flush(std::function<void()> flush) { flush_tlb_ = std::move(flush); }
  // Frees every root and table and stops tracking guest tables (leaving shadow mode).
  void drop_all();

  [[nodiscard]] ShadowStats stats() const;
  [[nodiscard]] const ShadowConfig& config() const { return config_; }
  [[nodiscard]] const ShadowPageTables& tables() const { return tables_; }
  [[nodiscard]] const ShadowRootCache& roots() const { return roots_; }
  [[nodiscard]] GuestMemory& memory() const { return memory_; }
  [[nodiscard]] const PageTracking& tracking() const { return tracking_; }

  // Tests (checker, corruption): the shadow leaf slot for va in the current root, if built.
  [[nodiscard]] X86Pte* leaf_for_testing(Gva va);

 private:
  using Walker = PageTableWalker<X86Pte>;
  static constexpr uint64_t kReclaimPerFill = 1;

  [[nodiscard]] ShadowRoot& root_for(const PagingContext& ctx);
  [[nodiscard]] bool lookup(Gva va, Access access, const PagingContext& ctx, Translation& out);
  [[nodiscard]] Translation fill(Gva va, Access access, const PagingContext& ctx);
  void install(Gva va, const PagingContext& ctx, const GuestWalk& w);
  [[nodiscard]] ShadowTable* mirror(uint64_t gfn, unsigned level, bool nxe, X86Pte* parent);
  void note_walked(const GuestWalk& w);
  void keep_within_budget();

  // shadow_sync.cc
  [[nodiscard]] X86Pte* leaf_slot(const ShadowRoot& root, Gva va, ShadowTable** table);
  [[nodiscard]] X86Pte derive_leaf(X86Pte guest, bool nxe, uint64_t& gfn) const;
  void resync(uint64_t gfn);
  void resync_all_unsync();
  void flush_if_requested();

  GuestMemory& memory_;
  PageTracking& tracking_;
  ShadowConfig config_;
  Walker walker_;
  ShadowPageTables tables_;
  ShadowRootCache roots_;  // after tables_: its trees are freed first
  std::function<void()> flush_tlb_;
  bool flush_pending_ = false;
  WalkCounters walks_;  // hidden faults' guest walks: fill_refs, guest #PFs, demand faults
  ShadowStats stats_;
};

}  // namespace densevm
