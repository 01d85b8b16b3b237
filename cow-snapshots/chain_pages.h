// ChainPages: a snapshot chain (a full snapshot and the diffs on top of it, root first) as
// guest RAM: which stored page of which file holds each RAM page, composed root first so a
// diff's entries override its parent's. No frames and no VM: SnapshotImage serves restored
// VMs from it, the planner fingerprints it (planner/).
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
  [[nodiscard]] uint64_t ram_pages() const { return slots_.size(); }
  // RAM pages with contents (neither zero nor absent).
  [[nodiscard]] uint64_t pages() const { return pages_; }
  // RAM page index <-> guest-physical address (GuestMemory's RAM layout for the VM's size).
  [[nodiscard]] uint64_t index_of(Gpa page) const;  // ram_pages() for a non-RAM page
  [[nodiscard]] Gpa gpa_of(uint64_t index) const;
  // The stored page (numbered across the chain, root first) holding RAM page `index`, or
  // kNone for a zero or absent page.
  [[nodiscard]] uint32_t slot(uint64_t index) const { return index < slots_.size() ? slots_[index] - 1 : kNone; }
  [[nodiscard]] uint64_t stored_pages() const { return stored_; }
  // Stored page s: its bytes (as the file holds them, unverified) and its hash from the index.
  [[nodiscard]] const uint8_t* data(uint32_t s) const;
  [[nodiscard]] uint64_t hash(uint32_t s) const;

 private:
  [[nodiscard]] size_t owner_of(uint32_t s) const;

  std::vector<Snapshot> chain_;
  // RAM page index -> stored page (whole chain) + 1, or 0 for none (kNone - 1 wraps to it):
  // zero is what a ZeroedArray holds untouched, so only pages of the table that describe
  // stored pages are written, not the whole table, before the first instruction.
  ZeroedArray<uint32_t> slots_;
  std::vector<uint64_t> first_;  // per chain member: number of its first stored page
  uint64_t stored_ = 0;
  uint64_t pages_ = 0;
};

}  // namespace densevm::snapshot
