// GuestWalk: the one walk of the guest's own 4-level tables through the EPT, shared by both
// MMU modes — nested paging walks on every soft-TLB miss, shadow paging on every hidden fault
// (and records the path, every guest table and entry read, to build the shadow from it).
//
// kAccess walks as the processor does: EPT lookups with A/D (GuestMemory::lookup), guest A/D
// bits set. kPeek reads mappings only and writes nothing, for the shadow checker and resyncs. The outcome
// is a value: a hit, a guest #PF with its exact error code, or an EPT violation (on a guest
// table, or on the data page) for the MMU to resolve and walk again (walk_and_resolve.h).
// Guest tables are untrusted: they are only ever reached through P2M lookups, so no entry can
// make the walk touch memory outside the VM's mapped frames, and the fixed depth of four makes
// loops harmless.
//
//   GuestWalk w = walk_guest(memory, Gva{va}, Access::kWrite, ctx, WalkMode::kAccess);
//   if (w.kind == GuestWalk::Kind::kHit) use(w.hpa, w.level(w.leaf_level).entry);
//   else if (w.kind == GuestWalk::Kind::kPageFault) inject(w.error_code);
//
// Not modelled: CR4.SMEP/SMAP/PKE (the PagingContext has no CR4 bits; all taken as 0), PCID
// (CR3 bits 11:0 ignored). The caller checks canonicality; bits 63:48 of gva are ignored.
#pragma once

#include <cstdint>

#include "core/page_table_walker.h"
#include "core/types.h"
#include "core/x86_pte.h"
#include "ept/p2m.h"
#include "mmu/guest_memory.h"
#include "mmu/mmu.h"

namespace densevm {

enum class WalkMode : uint8_t { kAccess, kPeek };

struct GuestWalkLevel {
  Gpa table;     // the guest table read at this level (page base)
  X86Pte entry;  // the entry as it is after the walk (A/D set by kAccess)
};

struct GuestWalk {
  enum class Kind : uint8_t {
    kHit,
    kPageFault,       // error_code
    kTableViolation,  // the EPT refused a guest table reference (at level lowest_level - 1): violation
    kDataViolation,   // the EPT refused the data access: violation
  };
  Kind kind = Kind::kPageFault;
  unsigned leaf_level = 0;     // kHit with paging: 1 (4 KiB), 2 (2 MiB) or 3 (1 GiB)
  unsigned lowest_level = 5;   // the last level whose entry was read (5: none)
  GuestWalkLevel path[4];      // path[level - 1], valid for levels >= lowest_level
  Gpa gpa;                     // kHit / kDataViolation: guest-physical address accessed
  Hpa hpa;                     // kHit: frame of gpa's page
  EptPerms ept_perms = kEptNone;
  // kHit: the EPT leaf's D bit after the access, as far as the walk knows it: set by a
  // kAccess write, read from the leaf by kPeek (a kAccess read does not look).
  bool ept_dirty = false;
  bool writable = false;       // guest R/W at every level
  bool user = false;           // guest U/S at every level
  bool executable = false;     // no guest XD at any level (always, without EFER.NXE)
  uint32_t error_code = 0;
  EptViolation violation{};
  uint64_t references = 0;     // guest entries + EPT entries read (kAccess: 24 for a full walk)

  [[nodiscard]] const GuestWalkLevel& level(unsigned l) const { return path[l - 1]; }
  // kHit: bytes the guest mapping covers (4 KiB without paging).
  [[nodiscard]] uint64_t page_size() const {
    return leaf_level == 0 ? kPageSize : PageTableWalker<X86Pte>::span(leaf_level);
  }
};

// CR3 bits 51:12 within the guest's MAXPHYADDR: the guest-physical PML4 (PCID bits ignored).
[[nodiscard]] constexpr Gpa guest_root_table(uint64_t cr3, unsigned maxphyaddr = kGuestMaxPhysAddrBits) {
  return Gpa{cr3 & X86Pte::kAddressMask & ((uint64_t{1} << maxphyaddr) - 1)};
}

// Translates gva for one access as the processor would with ctx (CR3, CPL, CR0.WP, EFER.NXE,
// CR0.PG). maxphyaddr (32 to 52): the guest's MAXPHYADDR, the one its CPUID reports unless a
// test says otherwise; entry address bits at and above it are reserved. Never throws.
[[nodiscard]] GuestWalk walk_guest(GuestMemory& memory, Gva gva, Access access, const PagingContext& ctx, WalkMode mode,
                                   unsigned maxphyaddr = kGuestMaxPhysAddrBits);

}  // namespace densevm
