// NestedWalker: the two-dimensional walk of nested paging. A guest virtual address goes
// through the guest's own x86-64 4-level tables, and every one of their references is itself
// a guest-physical address translated through the P2M (EPT).
//
// The outcome is a value: a hit (host page and rights), a guest #PF with its exact error
// code, or an EPT violation for the VMM to resolve and retry. Guest tables are untrusted:
// they are only ever reached through P2M lookups, so no entry can make the walker touch
// memory outside the VM's mapped frames, and the fixed depth of four makes loops harmless.
//
//   NestedWalker walker(p2m);
//   NestedWalk w = walker.walk(Gva{va}, Access::kWrite, ctx);
//   if (auto* hit = std::get_if<NestedHit>(&w)) hit->host_page[va & kPageMask] = 1;
//
// Not modelled: CR4.SMEP/SMAP/PKE (the PagingContext has no CR4 bits; all taken as 0), PCID
// (CR3 bits 11:0 ignored). The caller checks canonicality; bits 63:48 of gva are ignored.
#pragma once

#include <algorithm>
#include <cstdint>
#include <variant>

#include "ept/p2m.h"
#include "vmm/mmu.h"
#include "vmm/types.h"
#include "vmm/x86_pte.h"

namespace densevm {

struct NestedHit {
  Gpa gpa;             // guest-physical address of the byte accessed
  Hpa hpa;             // frame of gpa's 4 KiB page
  uint8_t* host_page;  // where hpa lives in this process
  uint64_t page_size;  // of the guest mapping: 4 KiB, 2 MiB or 1 GiB
  bool writable;       // R/W at every level
  bool user;           // U/S at every level
  bool executable;     // no XD at any level (always, without EFER.NXE)
  bool global;         // G in the leaf
  EptPerms ept_perms;  // effective EPT rights of the data page
};

// Inject #PF with this error code (kPf* bits, SDM Vol 3A §4.7) and CR2 = gva.
struct GuestPageFault {
  Gva gva;
  uint32_t error_code;
};

struct NestedEptViolation {
  EptViolation violation;  // for a table reference: the entry's Gpa, access kWrite
  Gva gva;
  bool during_table_walk;  // false: the final access to the data page
  unsigned guest_level;    // table walk only: 4 = PML4 .. 1 = PT
};

using NestedWalk = std::variant<NestedHit, GuestPageFault, NestedEptViolation>;

struct NestedWalkStats {
  uint64_t walks = 0;
  uint64_t memory_references = 0;  // guest entries read + EPT entries read (24 per full walk)
  uint64_t guest_page_faults = 0;
  uint64_t ept_violations = 0;
};

class NestedWalker {
 public:
  // maxphyaddr: the guest's MAXPHYADDR (clamped to 32..52); entry address bits at and
  // above it are reserved.
  explicit NestedWalker(P2m& p2m, unsigned maxphyaddr = kGuestMaxPhysAddrBits)
      : p2m_(p2m), maxphyaddr_(std::clamp(maxphyaddr, 32u, 52u)) {}

  // Translates gva for one access as the processor would with ctx (CR3, CPL, CR0.WP,
  // EFER.NXE, CR0.PG), setting guest A/D bits. Never throws.
  [[nodiscard]] NestedWalk walk(Gva gva, Access access, const PagingContext& ctx);

  [[nodiscard]] const NestedWalkStats& stats() const { return stats_; }

 private:
  [[nodiscard]] NestedWalk walk_guest_tables(Gva gva, Access access, const PagingContext& ctx);
  [[nodiscard]] NestedWalk finish(Gva gva, Gpa gpa, Access access, NestedHit hit);

  P2m& p2m_;
  unsigned maxphyaddr_;
  NestedWalkStats stats_;
};

}  // namespace densevm
