#include "cow-snapshots/chain_pages.h"

#include <algorithm>

#include "mmu/guest_memory.h"

namespace densevm::snapshot {

ChainPages::ChainPages(std::vector<Snapshot> chain) : chain_(std::move(chain)) {
  if (chain_.empty()) throw SnapshotError("no snapshot to restore");
  ram_pages_ = top().config.mem_bytes >> kPageShift;
  if (in_place()) {
    // parse_snapshot checked the entries: ascending, inside this config's RAM, stored pages
    // in range; only a diff has dropped entries.
    first_.push_back(0);
    stored_ = top().stored_pages();
    if (stored_ >= kNone) throw SnapshotError("snapshot chain holds too many pages");
    pages_ = top().page_count - top().dropped_pages;
    return;
  }
  slots_ = ZeroedArray<uint32_t>(ram_pages_);
  for (const Snapshot& s : chain_) {
    const auto base = static_cast<uint32_t>(stored_);
    first_.push_back(stored_);
    stored_ += s.stored_pages();
    if (stored_ >= kNone) throw SnapshotError("snapshot chain holds too many pages");
    for (uint64_t i = 0; i < s.page_count; ++i) {
      const IndexEntry ref = s.page(i);
      const uint64_t index = index_of(Gpa{ref.gpa});
      if (index >= slots_.size()) throw SnapshotError("snapshot has a page outside guest RAM");
      const uint32_t now = ref.stored == kDroppedPage ? 0 : base + ref.stored + 1;
      // pages_ counted as entries change: reading the whole table would touch all of it.
      // The root's entries are distinct pages of a zero table: not read, a read of a fresh
      // page before its write is two faults.
      const uint32_t before = &s == &chain_.front() ? 0 : slots_[index];
      pages_ += static_cast<uint64_t>(now != 0) - static_cast<uint64_t>(before != 0);
      slots_[index] = now;
    }
  }
}

uint32_t ChainPages::slot(uint64_t index) const {
  if (index >= ram_pages_) return kNone;
  return in_place() ? find_in_index(index) : slots_[index] - 1;
}

uint32_t ChainPages::find_in_index(uint64_t index) const {
  const Snapshot& s = top();
  const uint64_t gpa = gpa_of(index).value();
  uint64_t lo = 0, hi = s.page_count;  // the entry, if any, is in [lo, hi)
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    const IndexEntry e = s.page(mid);
    if (e.gpa == gpa) return e.stored == kDroppedPage ? kNone : e.stored;
    if (e.gpa < gpa) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return kNone;
}

uint64_t ChainPages::index_of(Gpa page) const { return GuestMemory::ram_page_index(top().config.mem_bytes, page); }

Gpa ChainPages::gpa_of(uint64_t index) const { return GuestMemory::ram_page_gpa(top().config.mem_bytes, index); }

size_t ChainPages::owner_of(uint32_t s) const {
  const auto it = std::upper_bound(first_.begin(), first_.end(), uint64_t{s});
  return static_cast<size_t>(it - first_.begin()) - 1;
}

const uint8_t* ChainPages::data(uint32_t s) const {
  const size_t k = owner_of(s);
  return chain_[k].stored_page(static_cast<uint32_t>(s - first_[k]));
}

uint64_t ChainPages::hash(uint32_t s) const {
  const size_t k = owner_of(s);
  return chain_[k].page_hash(static_cast<uint32_t>(s - first_[k]));
}

}  // namespace densevm::snapshot
