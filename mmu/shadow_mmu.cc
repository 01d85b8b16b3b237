#include "mmu/shadow_mmu.h"

#include "shadow-pt/shadow_entry.h"

namespace densevm {
namespace {

// What the shadow entry at `level` on va's path must point at, given the guest walk.
struct ChildSpec {
  uint64_t gfn;     // mirrored: guest table; direct: first guest frame covered
  uint64_t rights;  // kShadowRightsMask bits of the entry
  bool direct;
};

ChildSpec child_spec(const GuestWalk& w, unsigned level, Gva va, bool nxe) {
  if (level > w.leaf_level) {
    return {w.level(level - 1).table.page_number(), shadow_upper_rights(w.level(level).entry, nxe),
            false};
  }
  const X86Pte large = w.level(w.leaf_level).entry;
  const uint64_t base_gfn = large.page_base(w.leaf_level) >> kPageShift;
  if (level == w.leaf_level) return {base_gfn, shadow_upper_rights(large, nxe), true};
  // Below a 1 GiB page: one direct PT per 2 MiB, full rights (the PDPTE holds the guest's).
  return {base_gfn + PageTableWalker<X86Pte>::index(va.value(), 2) * 512,
          X86Pte::kPresent | X86Pte::kWritable | X86Pte::kUser, true};
}

}  // namespace

ShadowMmu::ShadowMmu(GuestMemory& memory, PageTracking& tracking, ShadowConfig config)
    : memory_(memory),
      tracking_(tracking),
      config_(config),
      walker_(memory.frames()),
      tables_(memory.frames(), tracking, memory.frame_pool()),
      roots_(tables_, config.max_roots) {
  memory_.add_listener(this);
}

ShadowMmu::~ShadowMmu() { memory_.remove_listener(this); }

ShadowRoot& ShadowMmu::root_for(const PagingContext& ctx) {
  const Gpa guest_root = guest_root_table(ctx.cr3);
  if (roots_.is_current(guest_root, ctx.nxe)) [[likely]] return *roots_.current();
  return roots_.switch_to(guest_root, ctx.nxe);
}

Translation ShadowMmu::translate(Gva va, Access access, const PagingContext& ctx) {
  ++stats_.translations;
  Translation t;
  if (ctx.paging && lookup(va, access, ctx, t)) [[likely]] {
    ++stats_.shadow_hits;
    return t;
  }
  t = fill(va, access, ctx);
  flush_if_requested();
  return t;
}

// The processor's walk of the shadow table (SDM Vol 3A §4.5.4, §4.6): rights are ANDed over
// the levels. Anything short of a hit — not present, or rights the shadow withholds for
// A/D emulation, tracking or the EPT — is a hidden fault resolved by fill().
bool ShadowMmu::lookup(Gva va, Access access, const PagingContext& ctx, Translation& out) {
  const ShadowRoot& root = root_for(ctx);
  if (!root.cell.present()) return false;
  Hpa table = root.cell.frame();
  bool upper_writable = true;
  bool user = true;
  bool executable = true;
  X86Pte e;
  for (unsigned level = X86Pte::kLevels;; --level) {
    e = walker_.table(table)[Walker::index(va.value(), level)];
    ++stats_.hit_refs;
    if (!e.present()) return false;
    user = user && e.user();
    executable = executable && !e.no_execute();
    if (level == 1) break;
    upper_writable = upper_writable && e.writable();
    table = e.frame();
  }
  if (ctx.user && !user) return false;
  if (access == Access::kWrite &&
      !(upper_writable && (e.writable() || (e.raw() & kShadowWriteTracked) != 0))) {
    return false;
  }
  if (access == Access::kExec && !executable) return false;
  const ShadowTable* leaf_table = tables_.find(table);
  if (leaf_table == nullptr) [[unlikely]] return false;
  out.kind = Translation::Kind::kRam;
  out.host_page = memory_.frames().host_ptr(e.frame());
  out.gpa = Gpa::from_page(tables_.leaf_gfn(*leaf_table, Walker::index(va.value(), 1)));
  out.writable = access == Access::kWrite;
  out.user = user;
  out.executable = access == Access::kExec;
  out.write_tracked = tracking_.tracked(out.gpa);
  return true;
}

// The hidden fault: walk the guest tables through the EPT as the processor would (setting
// guest A/D) and resolve EPT violations in the loop NestedMmu shares (the P2M may change
// meanwhile: no shadow state is held across a resolution), then build the shadow path.
Translation ShadowMmu::fill(Gva va, Access access, const PagingContext& ctx) {
  if (ctx.paging) {
    (void)root_for(ctx);
    keep_within_budget();
    // Retired tables drain as new ones are built: the work a retirement saved is spread
    // over the hidden faults that follow it, a table each.
    (void)tables_.reclaim(kReclaimPerFill);
  }
  return walk_and_resolve(memory_, tracking_, va, access, ctx, walks_, [&](GuestWalk& w) {
    // A read fill needs the EPT D bit to decide whether the shadow leaf may be writable.
    if (!w.ept_dirty && (w.ept_perms & kEptWrite) != 0) {
      walks_.memory_references += 4;
      const std::optional<P2mLeaf> leaf = memory_.mapping(w.gpa.page_base());
      w.ept_dirty = leaf && leaf->dirty;
    }
    if (!ctx.paging) return;
    ++stats_.sync_faults;
    note_walked(w);
    install(va, ctx, w);
  });
}

// Builds (or repairs) the shadow path for va from a successful walk. Entries already there
// are kept when they still point at the shadow of the right guest table with the right
// rights; a mismatch (possible only through stale out-of-sync leaves or hostile aliasing)
// is dropped and rebuilt. Running out of frames just leaves the path short: the next miss
// walks again, so translations stay correct.
void ShadowMmu::install(Gva va, const PagingContext& ctx, const GuestWalk& w) {
  ShadowRoot& root = root_for(ctx);
  const bool nxe = ctx.nxe;
  if (!root.cell.present()) {
    ShadowTable* pml4 = mirror(w.level(4).table.page_number(), 4, nxe, &root.cell);
    if (pml4 == nullptr) return;
    root.cell = X86Pte::table_entry(pml4->frame);
  }
  ShadowTable* table = tables_.find(root.cell.frame());
  for (unsigned level = X86Pte::kLevels; level > 1; --level) {
    const unsigned index = Walker::index(va.value(), level);
    X86Pte& slot = tables_.entries(*table)[index];
    const ChildSpec want = child_spec(w, level, va, nxe);
    if (slot.present()) {
      ShadowTable* child = tables_.find(slot.frame());
      if (child != nullptr && child->direct == want.direct && child->gfn == want.gfn &&
          child->level == level - 1 && (slot.raw() & kShadowRightsMask) == want.rights) {
        table = child;
        continue;
      }
      tables_.zap_entry(*table, index);
    }
    ShadowTable* child = want.direct ? tables_.create(want.gfn, level - 1, true, nxe, &slot)
                                     : mirror(want.gfn, level - 1, nxe, &slot);
    if (child == nullptr) return;
    slot = X86Pte(child->frame.value() | want.rights);
    table = child;
  }
  const bool pt_tracked = (tracking_.reasons(w.gpa) & PageTracking::kPageTable) != 0;
  const X86Pte leaf = shadow_leaf_entry(w.level(w.leaf_level).entry, w.hpa, w.ept_perms,
                                        w.ept_dirty, pt_tracked, nxe);
  tables_.set_leaf(*table, Walker::index(va.value(), 1), leaf, w.gpa.page_number());
}

// Upper levels are never out of sync: a guest frame about to be shadowed as a non-leaf
// table is resynced and write-protected first.
ShadowTable* ShadowMmu::mirror(uint64_t gfn, unsigned level, bool nxe, X86Pte* parent) {
  const GuestTableState* state = tables_.guest_table(gfn);
  if (state != nullptr && state->unsync && level > 1) {
    resync(gfn);
    tables_.set_unsync(gfn, false);
  }
  return tables_.create(gfn, level, false, nxe, parent);
}

// KVM's write-flooding heuristic: a walk through a table proves it is still a page table.
void ShadowMmu::note_walked(const GuestWalk& w) {
  for (unsigned level = w.lowest_level; level <= X86Pte::kLevels; ++level) {
    if (GuestTableState* s = tables_.guest_table(w.level(level).table.page_number())) {
      s->writes_since_use = 0;
    }
  }
}

// A fill creates at most four tables. Retired tables go first, then older address spaces;
// if the current one alone is over budget it is rebuilt from scratch.
void ShadowMmu::keep_within_budget() {
  constexpr uint64_t kFillTables = 4;
  while (tables_.live() + kFillTables > config_.max_tables && tables_.reclaim(1) != 0) {}
  while (tables_.live() + kFillTables > config_.max_tables && roots_.evict_lru()) {}
  if (tables_.live() + kFillTables <= config_.max_tables || tables_.live() == 0) return;
  if (ShadowRoot* current = roots_.current()) {
    roots_.drop_tree(*current);
    ++stats_.rebuilds;
  }
}

ShadowStats ShadowMmu::stats() const {
  ShadowStats s = stats_;
  s.fill_refs = walks_.memory_references;
  s.guest_page_faults = walks_.guest_page_faults;
  s.demand_faults = walks_.demand_faults;
  s.roots_cached = roots_.size();
  s.root_hits = roots_.stats().hits;
  s.root_misses = roots_.stats().misses;
  s.root_evictions = roots_.stats().evictions;
  s.tables_live = tables_.live();
  s.tables_created = tables_.created();
  s.retirements = tables_.retirements();
  s.tables_reclaimed = tables_.reclaimed();
  return s;
}

}  // namespace densevm
