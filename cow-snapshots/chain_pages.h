// ChainPages: a snapshot chain (a full snapshot and the diffs on top of it, root first) as
// guest RAM: which stored page of which file holds each RAM page, composed root first so a
// diff's entries override its parent's. No frames and no VM: SnapshotImage serves restored
// VMs from it, the planner fingerprints it (planner/).
//
// A single file is looked up in its own index in place (a binary search over the mapped
// entries, ascending and checked by parse_snapshot): nothing is built, so a lazy restore pays
// no first-touch faults for a table (a 1 GiB guest with 512 MiB stored: 258 faults, about
// 4.6 ms where a fault costs 18 us). A chain composes its members into a table from RAM page
// to stored page, written only where a page is stored.
//
//   ChainPages pages(load_snapshot_chain("child.snap"));
//   const uint32_t s = pages.slot(pages.index_of(Gpa{0x5000}));
//   if (s != ChainPages::kNone) use(pages.data(s), pages.hash(s));
#pragma once

#include <cstdint>
#include <vector>

#include "core/types.h"
#include "core/zeroed_array.h"
#include "cow-snapshots/snapshot_file.h"

namespace densevm::snapshot {

class ChainPages {
 public:
  static constexpr uint32_t kNone = 0xffffffffu;

  // chain: root first (load_snapshot_chain). Throws SnapshotError if it is empty, holds too
  // many pages, or an entry lies outside guest RAM.
  explicit ChainPages(std::vector<Snapshot> chain);

  // The newest snapshot of the chain: its config and state are the VM's.
  [[nodiscard]] const Snapshot& top() const { return chain_.back(); }
  [[nodiscard]] const std::vector<Snapshot>& chain() const { return chain_; }
  [[nodiscard]] uint64_t ram_pages() const { return ram_pages_; }
  // RAM pages with contents (neither zero nor absent).
  [[nodiscard]] uint64_t pages() const { return pages_; }
  // RAM page index <-> guest-physical address (GuestMemory's RAM layout for the VM's size).
  [[nodiscard]] uint64_t index_of(Gpa page) const;  // ram_pages() for a non-RAM page
  [[nodiscard]] Gpa gpa_of(uint64_t index) const;
  // The stored page (numbered across the chain, root first) holding RAM page `index`, or
  // kNone for a zero or absent page.
  [[nodiscard]] uint32_t slot(uint64_t index) const;
  // visit(index, slot) for every RAM page with contents, ascending index.
  template <typename Visit>
  void for_each_slot(Visit&& visit) const;
  [[nodiscard]] uint64_t stored_pages() const { return stored_; }
  // Stored page s: its bytes (as the file holds them, unverified) and its hash from the index.
  [[nodiscard]] const uint8_t* data(uint32_t s) const;
  [[nodiscard]] uint64_t hash(uint32_t s) const;

 private:
  [[nodiscard]] size_t owner_of(uint32_t s) const;
  [[nodiscard]] bool in_place() const { return chain_.size() == 1; }
  // In place: the stored page of the single file's entry for RAM page `index`, or kNone.
  [[nodiscard]] uint32_t find_in_index(uint64_t index) const;

  std::vector<Snapshot> chain_;
  uint64_t ram_pages_ = 0;
  // A chain's table (empty in place): RAM page index -> stored page (whole chain) + 1, or 0
  // for none (kNone - 1 wraps to it): zero is what a ZeroedArray holds untouched, so only
  // pages of the table that describe stored pages are written before the first instruction.
  ZeroedArray<uint32_t> slots_;
  std::vector<uint64_t> first_;  // per chain member: number of its first stored page
  uint64_t stored_ = 0;
  uint64_t pages_ = 0;
};

template <typename Visit>
void ChainPages::for_each_slot(Visit&& visit) const {
  if (in_place()) {
    const Snapshot& s = top();
    for (uint64_t i = 0; i < s.page_count; ++i) {
      const IndexEntry e = s.page(i);
      if (e.stored != kDroppedPage) visit(index_of(Gpa{e.gpa}), e.stored);
    }
    return;
  }
  for (uint64_t i = 0; i < ram_pages_; ++i) {
    if (slots_[i] != 0) visit(i, slots_[i] - 1);
  }
}

}  // namespace densevm::snapshot
