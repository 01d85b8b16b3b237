// GuestWalk: one walk of the guest's own 4-level tables through the EPT, recording the path
// (every guest table and entry read) so that the shadow can be built from it.
//
// Same rules, outcomes and error codes as ept/nested_walker (the checker and the
// equivalence tests hold the two together). kAccess walks as the processor does: EPT lookups
// with A/D, guest A/D bits set. kPeek reads through P2m::inspect and writes nothing, for the
// checker and for resyncs. Guest tables are only reached through the P2M, so hostile entries
// cannot reach frames outside the VM, and the fixed depth makes loops harmless.
//
//   GuestWalk w = walk_guest(p2m, Gva{va}, Access::kWrite, ctx, WalkMode::kAccess);
//   if (w.kind == GuestWalk::Kind::kHit) use(w.hpa, w.level(w.leaf_level).entry);
//   else if (w.kind == GuestWalk::Kind::kPageFault) inject(w.error_code);
#pragma once

#include <cstdint>

#include "ept/p2m.h"
#include "vmm/mmu.h"
#include "vmm/types.h"
#include "vmm/x86_pte.h"

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
    kTableViolation,  // the EPT refused a guest table reference: violation
    kDataViolation,   // the EPT refused the data access: violation
  };
  Kind kind = Kind::kPageFault;
  unsigned leaf_level = 0;     // kHit with paging: 1 (4 KiB), 2 (2 MiB) or 3 (1 GiB)
  unsigned lowest_level = 5;   // the last level whose entry was read (5: none)
  GuestWalkLevel path[4];      // path[level - 1], valid for levels >= lowest_level
  Gpa gpa;                     // kHit / kDataViolation: guest-physical address accessed
  Hpa hpa;                     // kHit: frame of gpa's page
  EptPerms ept_perms = kEptNone;
  bool ept_dirty = false;      // kHit: the EPT leaf's D bit after the access
  bool writable = false;       // guest R/W at every level
  bool user = false;           // guest U/S at every level
  bool executable = false;     // no guest XD at any level (always, without EFER.NXE)
  uint32_t error_code = 0;
  EptViolation violation{};
  uint64_t references = 0;     // guest entries + EPT entries read (kAccess: 24 for a full walk)

  [[nodiscard]] const GuestWalkLevel& level(unsigned l) const { return path[l - 1]; }
};

// CR3 bits 51:12 within the guest's MAXPHYADDR: the guest-physical PML4 (PCID bits ignored).
[[nodiscard]] constexpr Gpa guest_root_table(uint64_t cr3) {
  return Gpa{cr3 & X86Pte::kAddressMask & ((uint64_t{1} << kGuestMaxPhysAddrBits) - 1)};
}

[[nodiscard]] GuestWalk walk_guest(P2m& p2m, Gva gva, Access access, const PagingContext& ctx,
                                   WalkMode mode);

}  // namespace densevm
