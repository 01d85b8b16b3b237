#include "shadow-pt/shadow_page_tables.h"

#include <algorithm>

#include "shadow-pt/shadow_entry.h"

namespace densevm {

ShadowPageTables::~ShadowPageTables() {
  for (const auto& [gfn, state] : by_gfn_) {
    if (!state.unsync) tracking_.clear(Gpa::from_page(gfn), PageTracking::kPageTable);
  }
  for (const auto& [pfn, t] : by_frame_) frames_.release(t.frame);
}

ShadowTable* ShadowPageTables::create(uint64_t gfn, unsigned level, bool direct, bool nxe,
                                      X86Pte* parent) {
  if (!direct && !by_gfn_.contains(gfn)) {
    // A table we could not write-protect would go stale silently: do not shadow it.
    const Gpa page = Gpa::from_page(gfn);
    tracking_.set(page, PageTracking::kPageTable);
    const bool trackable = (tracking_.reasons(page) & PageTracking::kPageTable) != 0;
    tracking_.clear(page, PageTracking::kPageTable);
    if (!trackable) return nullptr;
  }
  const std::optional<Hpa> frame = frames_.allocate(pool_);
  if (!frame) return nullptr;
  ShadowTable& t = by_frame_[frame->page_number()];
  t.frame = *frame;
  t.gfn = gfn;
  t.parent = parent;
  t.level = static_cast<uint8_t>(level);
  t.direct = direct;
  t.nxe = nxe;
  t.generation = generation_;
  ++created_;
  if (direct) return &t;
  if (level == 1) t.leaf_gfns = std::make_unique<uint64_t[]>(kEntries);
  GuestTableState& state = by_gfn_[gfn];
  state.shadows.push_back(t.frame);
  if (state.shadows.size() == 1 && !state.unsync) track(gfn);
  return &t;
}

ShadowTable* ShadowPageTables::find(Hpa frame) {
  const auto it = by_frame_.find(frame.page_number());
  return it == by_frame_.end() ? nullptr : &it->second;
}

const ShadowTable* ShadowPageTables::find(Hpa frame) const {
  const auto it = by_frame_.find(frame.page_number());
  return it == by_frame_.end() ? nullptr : &it->second;
}

GuestTableState* ShadowPageTables::guest_table(uint64_t gfn) {
  const auto it = by_gfn_.find(gfn);
  return it == by_gfn_.end() ? nullptr : &it->second;
}

void ShadowPageTables::set_leaf(ShadowTable& t, unsigned index, X86Pte leaf, uint64_t gfn) {
  zap_entry(t, index);
  if (!leaf.present()) return;
  X86Pte* slot = &entries(t)[index];
  *slot = leaf;
  if (!t.direct) t.leaf_gfns[index] = gfn;
  rmap_.add(gfn, slot);
}

void ShadowPageTables::zap_entry(ShadowTable& t, unsigned index) {
  X86Pte& e = entries(t)[index];
  if (!e.present()) return;
  if (t.level == 1) {
    rmap_.remove(leaf_gfn(t, index), &e);
    e = X86Pte();
    return;
  }
  ShadowTable* child = find(e.frame());
  e = X86Pte();
  if (child != nullptr) destroy(*child);
}

void ShadowPageTables::detach(ShadowTable& t) {
  *t.parent = X86Pte();
  destroy(t);
}

void ShadowPageTables::destroy(ShadowTable& t) {
  for (unsigned i = 0; i < kEntries; ++i) zap_entry(t, i);
  if (!t.direct) {
    const auto it = by_gfn_.find(t.gfn);
    if (it != by_gfn_.end()) {
      std::erase(it->second.shadows, t.frame);
      if (it->second.shadows.empty()) {
        if (it->second.unsync) {
          std::erase(unsync_, t.gfn);
        } else {
          untrack(t.gfn);
        }
        by_gfn_.erase(it);
      }
    }
  }
  const Hpa frame = t.frame;
  by_frame_.erase(frame.page_number());
  frames_.release(frame);
}

uint64_t ShadowPageTables::unshadow(uint64_t gfn, bool retire_now) {
  const GuestTableState* state = guest_table(gfn);
  if (state == nullptr) return 0;
  const std::vector<Hpa> shadows = state->shadows;
  uint64_t n = 0;
  for (const Hpa frame : shadows) {
    // A recursive guest mapping can make one shadow of gfn a descendant of another.
    ShadowTable* t = find(frame);
    if (t == nullptr || t->direct || t->gfn != gfn || retired(*t)) continue;
    if (retire_now) {
      retire(*t);
    } else {
      detach(*t);
    }
    ++n;
  }
  return n;
}

void ShadowPageTables::retire(ShadowTable& t) {
  retired_.push_back(*t.parent);
  *t.parent = X86Pte();
  t.parent = &retired_.back();
  t.retired = true;
}

void ShadowPageTables::retire_all(std::span<X86Pte* const> root_cells) {
  ++generation_;
  ++retirements_;
  for (X86Pte* cell : root_cells) {
    if (!cell->present()) continue;
    if (ShadowTable* t = find(cell->frame()); t != nullptr && !t->retired) {
      retire(*t);
    } else {
      *cell = X86Pte();
    }
  }
}

// Breadth first: a table's children move to cells of their own before it is freed, so each
// step frees one table and costs at most its 512 entries.
uint64_t ShadowPageTables::reclaim(uint64_t max_tables) {
  uint64_t freed = 0;
  while (freed < max_tables && !retired_.empty()) {
    const X86Pte cell = retired_.front();
    ShadowTable* t = cell.present() ? find(cell.frame()) : nullptr;
    if (t != nullptr) {
      if (t->level > 1) {
        X86Pte* e = entries(*t);
        for (unsigned i = 0; i < kEntries; ++i) {
          if (!e[i].present()) continue;
          if (ShadowTable* child = find(e[i].frame())) {
            retire(*child);
          } else {
            e[i] = X86Pte();
          }
        }
      }
      destroy(*t);
      ++freed;
    }
    retired_.pop_front();
  }
  reclaimed_ += freed;
  return freed;
}

void ShadowPageTables::set_unsync(uint64_t gfn, bool unsync) {
  GuestTableState* state = guest_table(gfn);
  if (state == nullptr || state->unsync == unsync) return;
  state->unsync = unsync;
  if (unsync) {
    unsync_.push_back(gfn);
    untrack(gfn);
  } else {
    std::erase(unsync_, gfn);
    track(gfn);
  }
}

// Leaves mapping a guest table lose W (kept as kShadowWriteTracked), and the vCPU must drop
// soft-TLB write entries: from now on every guest write to the table is reported.
void ShadowPageTables::track(uint64_t gfn) {
  tracking_.set(Gpa::from_page(gfn), PageTracking::kPageTable);
  rmap_.for_each(gfn, [](X86Pte& e) {
    if (!e.writable()) return;
    e.clear(X86Pte::kWritable);
    e.set(kShadowWriteTracked);
  });
  flush_requested_ = true;
}

void ShadowPageTables::untrack(uint64_t gfn) {
  tracking_.clear(Gpa::from_page(gfn), PageTracking::kPageTable);
  rmap_.for_each(gfn, [](X86Pte& e) {
    if ((e.raw() & kShadowWriteTracked) == 0) return;
    e.clear(kShadowWriteTracked);
    e.set(X86Pte::kWritable);
  });
}

}  // namespace densevm
