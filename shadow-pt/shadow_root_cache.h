// ShadowRootCache: the shadow roots of one VM, one per guest address space (guest CR3 and
// EFER.NXE), kept across CR3 loads so that switching back to a process costs no rebuild.
//
// Bounded: at most `capacity` roots; the least recently used one is evicted (its whole shadow
// tree freed) to make room, and the owner may evict more to stay within a frame budget.
// "Recently" counts switches, never wall time.
//
//   ShadowRootCache roots(tables, 8);
//   ShadowRoot& r = roots.switch_to(guest_root_table(cr3), nxe);
//   if (r.cell.present()) walk(r.cell.frame());
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "shadow-pt/shadow_page_tables.h"

namespace densevm {

struct ShadowRoot {
  Gpa guest_root;       // the guest PML4
  bool nxe = false;
  X86Pte cell;          // the shadow PML4 once built: what a VMCS would hold as CR3
  uint64_t last_used = 0;
};

struct ShadowRootStats {
  uint64_t hits = 0;       // CR3 loads that found their shadow root cached
  uint64_t misses = 0;
  uint64_t evictions = 0;
};

class ShadowRootCache {
 public:
  ShadowRootCache(ShadowPageTables& tables, size_t capacity)
      : tables_(tables), capacity_(capacity < 1 ? 1 : capacity) {}
  ~ShadowRootCache() { clear(); }
  ShadowRootCache(const ShadowRootCache&) = delete;
  ShadowRootCache& operator=(const ShadowRootCache&) = delete;

  // Makes (guest_root, nxe) current, reusing its cached shadow if there is one.
  ShadowRoot& switch_to(Gpa guest_root, bool nxe);
  [[nodiscard]] ShadowRoot* current() const { return current_; }
  [[nodiscard]] bool is_current(Gpa guest_root, bool nxe) const {
    return current_ != nullptr && current_->guest_root == guest_root && current_->nxe == nxe;
  }
  // Frees the least recently used root other than the current one; false if there is none.
  bool evict_lru();
  // Frees the shadow tree of a root, keeping the root (it is rebuilt on demand).
  void drop_tree(ShadowRoot& root);
  // Frees every root.
  void clear();
  // Keeps every root but retires all their trees at once (ShadowPageTables::retire_all).
  void retire_all();

  template <class Fn>
  void for_each(Fn&& fn) const {
    for (const auto& r : roots_) fn(*r);
  }
  [[nodiscard]] size_t size() const { return roots_.size(); }
  [[nodiscard]] const ShadowRootStats& stats() const { return stats_; }

 private:
  ShadowPageTables& tables_;
  size_t capacity_;
  std::vector<std::unique_ptr<ShadowRoot>> roots_;  // stable cells: tables point at them
  ShadowRoot* current_ = nullptr;
  uint64_t clock_ = 0;
  ShadowRootStats stats_;
};

}  // namespace densevm
