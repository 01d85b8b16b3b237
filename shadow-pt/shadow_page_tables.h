// ShadowPageTables: the shadow tables of one VM — host-format x86-64 tables in FrameStore
// frames — with what each one mirrors, and the write-protection of the guest tables they
// were built from.
//
// A mirrored table shadows one guest table (its gfn); every guest frame with a mirrored table
// is write-tracked (PageTracking::kPageTable) unless it is out of sync. A direct table
// splits a guest large page into 4 KiB leaves and mirrors no guest table. Tables form
// per-root trees: each has exactly one parent entry (a shadow entry or a root cell), so
// freeing a subtree is a plain recursion of depth at most four.
//
// Work that would grow with what the shadow holds is not done at once but retired: a change
// that invalidates every translation (the whole P2M made copy-on-write for a checkpoint)
// retires every tree, as KVM's fast zap of obsolete pages does (a generation number per
// table), and unshadowing an upper-level guest table retires its shadow's subtree. Retired
// tables are unreachable, never used and never kept in step with the guest; reclaim() frees
// them a few at a time.
//
//   ShadowPageTables tables(frames, tracking);
//   ShadowTable* pml4 = tables.create(cr3_gfn, 4, /*direct=*/false, /*nxe=*/true, &root_cell);
//   tables.unshadow(cr3_gfn);   // drops every shadow of that guest table
//   tables.retire_all(root_cells);  // O(roots); then tables.reclaim(1) now and then
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/frame_store.h"
#include "core/page_table_walker.h"
#include "core/page_tracking.h"
#include "core/x86_pte.h"
#include "shadow-pt/shadow_rmap.h"

namespace densevm {

struct ShadowTable {
  Hpa frame;
  uint64_t gfn = 0;        // mirrored: the guest table; direct: first guest frame covered
  X86Pte* parent = nullptr;  // the shadow entry or root cell that points here
  uint8_t level = 0;
  bool direct = false;
  bool nxe = false;        // EFER.NXE of the root: decides what guest XD means
  uint64_t generation = 0;  // retired once the set's generation moves past it
  bool retired = false;     // its subtree was unlinked and waits for reclaim()
  std::unique_ptr<uint64_t[]> leaf_gfns;  // mirrored level-1 tables: gfn behind each leaf
};

// One guest frame that some shadow table mirrors.
struct GuestTableState {
  std::vector<Hpa> shadows;       // the mirroring tables
  uint32_t writes_since_use = 0;  // emulated writes since a walk last went through it
  bool unsync = false;            // level-1 only: not write-tracked, resynced at INVLPG/CR3
};

class ShadowPageTables {
 public:
  using Walker = PageTableWalker<X86Pte>;
  static constexpr unsigned kEntries = Walker::kEntriesPerTable;

  // Tables come from `pool` of the store (the VM's home NUMA node's).
  ShadowPageTables(FrameStore& frames, PageTracking& tracking, uint32_t pool = 0)
      : frames_(frames), tracking_(tracking), pool_(pool) {}
  // Releases every frame and clears the tracking this set added.
  ~ShadowPageTables();
  ShadowPageTables(const ShadowPageTables&) = delete;
  ShadowPageTables& operator=(const ShadowPageTables&) = delete;

  // A zeroed table; the caller links it with *parent = rights | frame. nullptr when the
  // FrameStore is exhausted or the guest frame cannot be write-tracked.
  [[nodiscard]] ShadowTable* create(uint64_t gfn, unsigned level, bool direct, bool nxe,
                                    X86Pte* parent);
  [[nodiscard]] ShadowTable* find(Hpa frame);
  [[nodiscard]] const ShadowTable* find(Hpa frame) const;
  [[nodiscard]] X86Pte* entries(const ShadowTable& t) const {
    return reinterpret_cast<X86Pte*>(frames_.host_ptr(t.frame));
  }
  [[nodiscard]] uint64_t leaf_gfn(const ShadowTable& t, unsigned index) const {
    return t.direct ? t.gfn + index : t.leaf_gfns[index];
  }

  void set_leaf(ShadowTable& t, unsigned index, X86Pte leaf, uint64_t gfn);
  // Clears one entry: a leaf leaves the rmap, a table entry frees its subtree.
  void zap_entry(ShadowTable& t, unsigned index);
  // Clears t's parent entry and frees t's subtree.
  void detach(ShadowTable& t);
  // Unlinks every live table mirroring gfn and frees it with its subtree (a leaf table's
  // 512 leaves leave the rmap one by one). With `retire`, each is retired instead: O(1), freed
  // by reclaim(), the guest table staying write-tracked until then. Returns how many.
  uint64_t unshadow(uint64_t gfn, bool retire = false);
  // Retires every table at once: the trees under `root_cells` are unlinked (each cell
  // cleared). Costs O(cells), whatever the trees hold.
  void retire_all(std::span<X86Pte* const> root_cells);
  // Frees up to `max_tables` retired tables, parents before children; returns how many.
  uint64_t reclaim(uint64_t max_tables);
  [[nodiscard]] bool retired(const ShadowTable& t) const {
    return t.retired || t.generation != generation_;
  }
  [[nodiscard]] bool has_retired() const { return !retired_.empty(); }
  // Clears every leaf mapping gfn (the EPT entry behind it changed); returns how many.
  uint64_t drop_leaves(uint64_t gfn) { return rmap_.drop(gfn); }

  [[nodiscard]] GuestTableState* guest_table(uint64_t gfn);
  [[nodiscard]] const std::unordered_map<uint64_t, GuestTableState>& guest_tables() const {
    return by_gfn_;
  }
  [[nodiscard]] const std::vector<uint64_t>& unsync_gfns() const { return unsync_; }
  // Out of sync: tracking stops (shadow leaves may go stale until resynced). Back in sync:
  // tracking resumes; the caller has resynced the tables first.
  void set_unsync(uint64_t gfn, bool unsync);

  // True once after tracking started for some frame: soft-TLB write entries must go.
  [[nodiscard]] bool take_flush_request() {
    const bool r = flush_requested_;
    flush_requested_ = false;
    return r;
  }

  template <class Fn>
  void for_each_table(Fn&& fn) const {
    for (const auto& [pfn, t] : by_frame_) fn(t);
  }
  [[nodiscard]] const ShadowRmap& rmap() const { return rmap_; }
  [[nodiscard]] uint64_t live() const { return by_frame_.size(); }
  [[nodiscard]] uint64_t created() const { return created_; }
  [[nodiscard]] uint64_t retirements() const { return retirements_; }
  [[nodiscard]] uint64_t reclaimed() const { return reclaimed_; }

 private:
  void destroy(ShadowTable& t);
  // Moves t (linked by t.parent) to a cell of retired_, clearing the entry that linked it.
  void retire(ShadowTable& t);
  void track(uint64_t gfn);
  void untrack(uint64_t gfn);

  FrameStore& frames_;
  PageTracking& tracking_;
  uint32_t pool_;
  std::unordered_map<uint64_t, ShadowTable> by_frame_;  // by frame number
  std::unordered_map<uint64_t, GuestTableState> by_gfn_;
  std::vector<uint64_t> unsync_;
  ShadowRmap rmap_;
  // Parent cells of retired subtrees not reclaimed yet. A deque, so that cells keep their
  // address while others come and go at the ends.
  std::deque<X86Pte> retired_;
  uint64_t generation_ = 0;
  uint64_t retirements_ = 0;
  uint64_t reclaimed_ = 0;
  uint64_t created_ = 0;
  bool flush_requested_ = false;
};

}  // namespace densevm
