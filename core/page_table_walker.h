// PageTableWalker: the structural half of every 4-level radix table we store in FrameStore
// frames, shared by the EPT format (ept/) and host-format x86 PTEs (shadow tables).
//
// It finds, creates, visits and frees entries; what the permission bits mean stays with the
// user. The tables are ours (never guest-written), so the walker trusts every address it
// finds in them. Levels are numbered as the SDM does: 4 = PML4 .. 1 = PT (4 KiB leaves).
// Entry supplies holds_frame(), frame() (next table or mapped page), is_leaf(level) and
// table_entry(Hpa).
//
//   PageTableWalker<EptEntry> walker(frames);
//   EptEntry* leaf = walker.find_or_create(root, gpa.value(), 1, tables_created);
//   walker.for_each_leaf(root, begin, end, [](uint64_t addr, EptEntry& e, unsigned level) {});
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

#include "core/frame_store.h"
#include "core/types.h"

namespace densevm {

template <class Entry>
class PageTableWalker {
 public:
  static constexpr unsigned kLevels = 4;
  static constexpr unsigned kIndexBits = 9;
  static constexpr unsigned kEntriesPerTable = 1u << kIndexBits;
  static constexpr uint64_t kAddressLimit = uint64_t{1} << (kPageShift + kLevels * kIndexBits);

  static_assert(sizeof(Entry) == 8 && Entry::kLevels == kLevels);
  static_assert(kEntriesPerTable * sizeof(Entry) == kPageSize);

  [[nodiscard]] static constexpr unsigned shift(unsigned level) {
    return static_cast<unsigned>(kPageShift) + kIndexBits * (level - 1);
  }
  // Bytes of address space one entry at `level` covers: 4 KiB, 2 MiB, 1 GiB, 512 GiB.
  [[nodiscard]] static constexpr uint64_t span(unsigned level) {
    return uint64_t{1} << shift(level);
  }
  [[nodiscard]] static constexpr unsigned index(uint64_t addr, unsigned level) {
    return static_cast<unsigned>(addr >> shift(level)) & (kEntriesPerTable - 1);
  }

  // Tables it creates come from `pool` of the store (a VM's home NUMA node's).
  explicit PageTableWalker(FrameStore& frames, uint32_t pool = 0) : frames_(&frames), pool_(pool) {}

  [[nodiscard]] Entry* table(Hpa hpa) const {
    return reinterpret_cast<Entry*>(frames_->host_ptr(hpa));
  }

  // The entry at `level` covering addr; nullptr if a table above it is missing or a large
  // leaf above it maps addr.
  [[nodiscard]] Entry* find(Hpa root, uint64_t addr, unsigned level) const {
    Hpa t = root;
    for (unsigned l = kLevels;; --l) {
      Entry* e = &table(t)[index(addr, l)];
      if (l == level) return e;
      if (!e->holds_frame() || e->is_leaf(l)) return nullptr;
      t = e->frame();
    }
  }

  // Like find(), creating missing tables (zeroed frames) on the way; tables_created counts
  // them. nullptr when the FrameStore is exhausted or a large leaf above maps addr.
  // A table it creates is written before anything reads it (a fresh frame is zero: nothing
  // there to read), so the frame's first touch is one fault, not a read fault mapping the
  // zero page and then a copy-on-write fault: half the first-touch faults of a new path,
  // each up to 20 us on a host that is itself a VM (bench/fault_cost).
  [[nodiscard]] Entry* find_or_create(Hpa root, uint64_t addr, unsigned level,
                                      uint64_t& tables_created) {
    Hpa t = root;
    bool fresh = false;  // t was made on this walk: every entry in it is zero
    for (unsigned l = kLevels;; --l) {
      Entry* e = &table(t)[index(addr, l)];
      if (l == level) {
        if (fresh) *e = Entry{};  // the caller reads it next: written first
        return e;
      }
      if (fresh || !e->holds_frame()) {
        std::optional<Hpa> made = frames_->allocate(pool_);
        if (!made) return nullptr;
        *e = Entry::table_entry(*made);
        ++tables_created;
        fresh = true;
      } else if (e->is_leaf(l)) {
        return nullptr;
      }
      t = e->frame();
    }
  }

  // fn(addr, Entry&, level) for every leaf holding a frame that intersects [begin, end),
  // in ascending address order; addr is the leaf's base. fn may change the entry but not
  // the tree's shape.
  template <class Fn>
  void for_each_leaf(Hpa root, uint64_t begin, uint64_t end, Fn&& fn) const {
    end = std::min(end, kAddressLimit);
    if (begin < end) visit(root, kLevels, 0, begin, end, fn);
  }

  // Frees every table frame of the tree, root included, after calling on_leaf(addr, Entry&,
  // level) for each leaf that holds a frame (the owner decides what a leaf's frame means).
  template <class Fn>
  void destroy(Hpa root, Fn&& on_leaf) {
    destroy_table(root, kLevels, 0, on_leaf);
  }

 private:
  template <class Fn>
  void visit(Hpa t, unsigned level, uint64_t base, uint64_t begin, uint64_t end, Fn& fn) const {
    Entry* entries = table(t);
    const uint64_t size = span(level);
    for (unsigned i = begin > base ? index(begin, level) : 0; i < kEntriesPerTable; ++i) {
      const uint64_t addr = base + i * size;
      if (addr >= end) return;
      Entry& e = entries[i];
      if (!e.holds_frame()) continue;
      if (level == 1 || e.is_leaf(level)) {
        fn(addr, e, level);
      } else {
        visit(e.frame(), level - 1, addr, begin, end, fn);
      }
    }
  }

  template <class Fn>
  void destroy_table(Hpa t, unsigned level, uint64_t base, Fn& on_leaf) {
    Entry* entries = table(t);
    for (unsigned i = 0; i < kEntriesPerTable; ++i) {
      Entry& e = entries[i];
      if (!e.holds_frame()) continue;
      const uint64_t addr = base + i * span(level);
      if (level == 1 || e.is_leaf(level)) {
        on_leaf(addr, e, level);
      } else {
        destroy_table(e.frame(), level - 1, addr, on_leaf);
      }
    }
    frames_->release(t);
  }

  FrameStore* frames_;
  uint32_t pool_;
};

}  // namespace densevm
