// TestGuest: guest RAM, tracking and hand-built guest page tables for the shadow-pt tests,
// plus the vCPU's side of the write-tracking contract (perform the write, then report it).
//
//   TestGuest g;
//   g.map(0x40'0000, g.data_page(0), kP | kW | kU);
//   g.guest_write(entry_gpa, 0, mmu);   // as the vCPU would
#pragma once

#include <cstdint>
#include <cstring>

#include "core/frame_store.h"
#include "core/page_table_walker.h"
#include "core/page_tracking.h"
#include "core/x86_pte.h"
#include "mmu/guest_memory.h"
#include "mmu/mmu.h"

namespace densevm::testing {

inline constexpr uint64_t kP = X86Pte::kPresent;
inline constexpr uint64_t kW = X86Pte::kWritable;
inline constexpr uint64_t kU = X86Pte::kUser;
inline constexpr uint64_t kA = X86Pte::kAccessed;
inline constexpr uint64_t kD = X86Pte::kDirty;
inline constexpr uint64_t kPs = X86Pte::kPageSize;
inline constexpr uint64_t kXd = X86Pte::kNoExecute;

class TestGuest {
 public:
  static constexpr uint64_t kRamBytes = uint64_t{64} << 20;
  static constexpr uint64_t kTablesBase = 0x10'0000;  // guest tables from 1 MiB
  static constexpr uint64_t kDataBase = 0x100'0000;   // data pages from 16 MiB

  TestGuest() { cr3 = new_table(); }

  uint64_t new_table() {
    const uint64_t gpa = next_table_;
    next_table_ += kPageSize;
    (void)memory.populate(Gpa{gpa});
    return gpa;
  }
  static uint64_t data_page(uint64_t n) { return kDataBase + n * kPageSize; }

  uint64_t read(uint64_t gpa) {
    uint64_t v = 0;
    (void)memory.read(Gpa{gpa}, &v, sizeof v);
    return v;
  }
  // A host-side write (setup before shadowing): not reported.
  void poke(uint64_t gpa, uint64_t value) { (void)memory.write(Gpa{gpa}, &value, sizeof value); }
  // A guest write as the vCPU performs it: the bytes first, then the report if tracked.
  void guest_write(uint64_t gpa, uint64_t value, WriteTracker& tracker) {
    poke(gpa, value);
    if ((tracking.reasons(Gpa{gpa}) & ~PageTracking::kCode) != 0) {
      tracker.on_tracked_write(Gpa{gpa}, sizeof value);
    }
  }

  // Installs gva -> gpa as a leaf at `level` (2 and 3 get PS) under root `root` (0: cr3);
  // missing tables get upper_flags. Returns the Gpa of the leaf entry.
  uint64_t map(uint64_t gva, uint64_t gpa, uint64_t leaf_flags, unsigned level = 1,
               uint64_t upper_flags = kP | kW | kU, uint64_t root = 0) {
    uint64_t table = root != 0 ? root : cr3;
    for (unsigned l = 4; l > level; --l) {
      const uint64_t slot = table + Walker::index(gva, l) * 8;
      uint64_t entry = read(slot);
      if ((entry & kP) == 0) {
        entry = new_table() | upper_flags;
        poke(slot, entry);
      }
      table = entry & X86Pte::kAddressMask;
    }
    const uint64_t slot = table + Walker::index(gva, level) * 8;
    poke(slot, gpa | leaf_flags | (level > 1 ? kPs : 0));
    return slot;
  }
  // Gpa of the entry at `level` on gva's (already built) path.
  uint64_t entry_gpa(uint64_t gva, unsigned level, uint64_t root = 0) {
    uint64_t table = root != 0 ? root : cr3;
    for (unsigned l = 4; l > level; --l) {
      table = read(table + Walker::index(gva, l) * 8) & X86Pte::kAddressMask;
    }
    return table + Walker::index(gva, level) * 8;
  }
  PagingContext ctx(bool user = false, uint64_t root = 0) const {
    PagingContext c;
    c.cr3 = root != 0 ? root : cr3;
    c.user = user;
    c.wp = true;
    c.nxe = true;
    return c;
  }
  uint8_t* host_page(uint64_t gpa) { return memory.writable_page(Gpa{gpa}); }

  FrameStore frames{uint64_t{256} << 20};
  GuestMemory memory{frames, kRamBytes};
  PageTracking tracking{kRamBytes >> kPageShift};
  uint64_t cr3 = 0;

 private:
  using Walker = PageTableWalker<X86Pte>;
  uint64_t next_table_ = kTablesBase;
};

}  // namespace densevm::testing
