// ShadowMmu, keeping the shadow in step with the guest: reported writes to guest tables,
// out-of-sync leaf tables, INVLPG, CR3 loads and EPT changes.
#include <algorithm>

#include "mmu/shadow_mmu.h"
#include "shadow-pt/shadow_entry.h"

namespace densevm {

// The guest wrote to a write-tracked page (already performed). Entries derived from the
// bytes written are dropped in every shadow of that table; the next use walks again. A
// table written repeatedly without being walked is either let go out of sync (leaf tables)
// or unshadowed altogether (write flooding, as KVM's detect_write_flooding).
void ShadowMmu::on_tracked_write(Gpa gpa, unsigned size) {
  const uint64_t gfn = gpa.page_number();
  GuestTableState* state = tables_.guest_table(gfn);
  if (state == nullptr) return;
  ++stats_.emulated_pt_writes;
  const uint64_t offset = gpa.page_offset();
  const unsigned first = static_cast<unsigned>(offset / sizeof(X86Pte));
  const unsigned last = static_cast<unsigned>(
      std::min<uint64_t>((offset + std::max(size, 1u) - 1) / sizeof(X86Pte),
                         ShadowPageTables::kEntries - 1));
  const std::vector<Hpa> shadows = state->shadows;
  for (const Hpa frame : shadows) {
    ShadowTable* t = tables_.find(frame);
    if (t == nullptr || t->direct || t->gfn != gfn || tables_.retired(*t)) continue;
    for (unsigned i = first; i <= last; ++i) tables_.zap_entry(*t, i);
  }
  // Dropping an entry of a recursive mapping can free every shadow of this very table.
  state = tables_.guest_table(gfn);
  if (state != nullptr) {
    ++state->writes_since_use;
    const bool all_leaves = std::all_of(state->shadows.begin(), state->shadows.end(),
                                        [this](Hpa f) { return tables_.find(f)->level == 1; });
    if (config_.flood_after_writes != 0 && state->writes_since_use >= config_.flood_after_writes) {
      // Shadows already retired (a checkpoint) are not unshadowed again, nor counted.
      if (tables_.unshadow(gfn) != 0) ++stats_.flood_unshadows;
    } else if (config_.unsync_after_writes != 0 && all_leaves &&
               state->writes_since_use >= config_.unsync_after_writes) {
      tables_.set_unsync(gfn, true);
      ++stats_.unsyncs;
    }
  }
  flush_if_requested();
}

// SDM Vol 3A §4.10.4.1: INVLPG invalidates the TLB entries for one page (in every PCID, for
// us every cached root). An out-of-sync leaf table gets that entry resynced by dropping it.
void ShadowMmu::invlpg(Gva va, const PagingContext&) {
  roots_.for_each([&](const ShadowRoot& root) {
    ShadowTable* table = nullptr;
    X86Pte* leaf = leaf_slot(root, va, &table);
    if (leaf == nullptr || !leaf->present()) return;
    if (!table->direct) {
      const GuestTableState* state = tables_.guest_table(table->gfn);
      if (state != nullptr && state->unsync) ++stats_.unsync_resyncs;
    }
    tables_.zap_entry(*table, Walker::index(va.value(), 1));
    ++stats_.invlpg_drops;
  });
}

// SDM Vol 3A §4.10.4.1: a CR3 load invalidates the (non-global) TLB. Every out-of-sync table
// is resynced and write-protected again, then the new address space's root is made
// current, reused from the cache when it is there.
void ShadowMmu::cr3_loaded(const PagingContext& ctx) {
  resync_all_unsync();
  if (ctx.paging) (void)root_for(ctx);
  flush_if_requested();
}

// The software INVEPT: drop exactly the shadow leaves that map the changed guest frames,
// and the shadows of guest tables living in them (their contents may now be other bytes).
// A change spanning more pages than the shadow maps at all (the checkpoint's restriction
// of a top-level EPT entry spans 512 GiB) retires every table instead: what was looked up
// and dropped page by page costs O(roots) now and is freed by the fills that follow. A
// guest table given a new frame (a rollback putting back its old contents) has its shadows
// retired the same way: O(1), not O(entries and subtree).
void ShadowMmu::on_p2m_change(Gpa begin, Gpa end, P2mChange) {
  if (end <= begin) return;
  const uint64_t first = begin.page_number();
  const uint64_t last = (end.value() - 1) >> kPageShift;
  std::vector<uint64_t> gfns;
  constexpr uint64_t kScanLimit = 64;  // wider changes look the frames up instead
  const uint64_t shadowed = tables_.rmap().gfn_count() + tables_.guest_tables().size();
  if (last - first >= kScanLimit && last - first >= shadowed) {
    roots_.retire_all();
  } else if (last - first < kScanLimit) {
    for (uint64_t gfn = first; gfn <= last; ++gfn) gfns.push_back(gfn);
  } else {
    gfns = tables_.rmap().gfns_in(first, last);
    for (const auto& [gfn, state] : tables_.guest_tables()) {
      if (gfn >= first && gfn <= last) gfns.push_back(gfn);
    }
  }
  for (const uint64_t gfn : gfns) {
    stats_.rmap_invalidations += tables_.drop_leaves(gfn);
    (void)tables_.unshadow(gfn, /*retire=*/true);  // a rollback puts back guest tables
  }
  // Soft-TLB entries can come from translations the shadow never held (no paging, EPT
  // execute-only pages): any change may leave one stale.
  flush_pending_ = true;
  flush_if_requested();
}

void ShadowMmu::drop_all() {
  roots_.clear();
  (void)tables_.reclaim(UINT64_MAX);
  flush_pending_ = true;
  flush_if_requested();
}

X86Pte* ShadowMmu::leaf_slot(const ShadowRoot& root, Gva va, ShadowTable** table) {
  if (!root.cell.present()) return nullptr;
  Hpa frame = root.cell.frame();
  for (unsigned level = X86Pte::kLevels; level > 1; --level) {
    const X86Pte e = walker_.table(frame)[Walker::index(va.value(), level)];
    if (!e.present()) return nullptr;
    frame = e.frame();
  }
  *table = tables_.find(frame);
  if (*table == nullptr) return nullptr;
  return &tables_.entries(**table)[Walker::index(va.value(), 1)];
}

X86Pte* ShadowMmu::leaf_for_testing(Gva va) {
  ShadowTable* table = nullptr;
  return roots_.current() ? leaf_slot(*roots_.current(), va, &table) : nullptr;
}

// The leaf a fresh walk would install for guest PTE `guest`, without side effects; a
// non-present result means "drop". Only A-set entries qualify: a shadow leaf stands for a
// walk that set A.
X86Pte ShadowMmu::derive_leaf(X86Pte guest, bool nxe, uint64_t& gfn) const {
  if (!guest.present() || !guest.accessed() ||
      (guest.raw() & x86_reserved_bits(1, false, kGuestMaxPhysAddrBits, nxe)) != 0) {
    return X86Pte();
  }
  gfn = guest.address() >> kPageShift;
  const std::optional<P2mLeaf> page = memory_.mapping(Gpa{guest.address()});
  if (!page) return X86Pte();
  const bool pt_tracked =
      (tracking_.reasons(Gpa{guest.address()}) & PageTracking::kPageTable) != 0;
  return shadow_leaf_entry(guest, page->hpa, page->effective_perms, page->dirty, pt_tracked, nxe);
}

// Compares every leaf of every shadow of an out-of-sync guest table with the guest's entry
// now, and drops those that no longer match (KVM's sync_page).
void ShadowMmu::resync(uint64_t gfn) {
  const GuestTableState* state = tables_.guest_table(gfn);
  if (state == nullptr) return;
  const std::optional<P2mLeaf> page = memory_.mapping(Gpa::from_page(gfn));
  if (!page) {
    (void)tables_.unshadow(gfn);
    return;
  }
  const auto* guest = reinterpret_cast<const X86Pte*>(memory_.frames().host_ptr(page->hpa));
  const std::vector<Hpa> shadows = state->shadows;
  for (const Hpa frame : shadows) {
    ShadowTable* t = tables_.find(frame);
    if (t == nullptr || t->direct || t->level != 1 || tables_.retired(*t)) continue;
    X86Pte* entries = tables_.entries(*t);
    for (unsigned i = 0; i < ShadowPageTables::kEntries; ++i) {
      if (!entries[i].present()) continue;
      uint64_t fresh_gfn = 0;
      const X86Pte fresh = derive_leaf(guest[i], t->nxe, fresh_gfn);
      if (fresh_gfn != tables_.leaf_gfn(*t, i) || !shadow_leaf_still_valid(entries[i], fresh)) {
        tables_.zap_entry(*t, i);
      }
    }
    ++stats_.unsync_resyncs;
  }
}

void ShadowMmu::resync_all_unsync() {
  const std::vector<uint64_t> gfns = tables_.unsync_gfns();
  for (const uint64_t gfn : gfns) {
    resync(gfn);
    tables_.set_unsync(gfn, false);
  }
}

void ShadowMmu::flush_if_requested() {
  const bool requested = tables_.take_flush_request() || flush_pending_;
  flush_pending_ = false;
  if (!requested) return;
  ++stats_.tlb_flushes;
  if (flush_tlb_) flush_tlb_();
}

}  // namespace densevm
