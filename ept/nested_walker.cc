#include "ept/nested_walker.h"

#include "vmm/paging_rules.h"

namespace densevm {
namespace {

using Walker = PageTableWalker<X86Pte>;

}  // namespace

NestedWalk NestedWalker::walk(Gva gva, Access access, const PagingContext& ctx) {
  ++stats_.walks;
  const uint64_t ept_refs_before = p2m_.stats().walk_references;
  NestedWalk result = walk_guest_tables(gva, access, ctx);
  stats_.memory_references += p2m_.stats().walk_references - ept_refs_before;
  if (std::holds_alternative<GuestPageFault>(result)) ++stats_.guest_page_faults;
  if (std::holds_alternative<NestedEptViolation>(result)) ++stats_.ept_violations;
  return result;
}

// SDM Vol 3A §4.5.4 (4-level paging) under Vol 3C §29.3.3.3 (order of EPT violations and
// #PF): each guest entry's address is a guest-physical address translated through the EPT
// before it is read. With EPT A/D enabled (§29.3.4) every guest paging-structure access
// counts as a write for EPT purposes, so table pages must be EPT-writable (a copy-on-write
// table page is broken on the first walk). A guest entry gets its A bit (§4.8) once it has
// passed the present and reserved-bit checks; the leaf gets A (and D for a write) only when
// the access is allowed, as Intel processors do: a refused access leaves the leaf untouched.
NestedWalk NestedWalker::walk_guest_tables(Gva gva, Access access, const PagingContext& ctx) {
  if (!ctx.paging) {
    return finish(gva, Gpa{gva.value()}, access,
                  NestedHit{{}, {}, nullptr, kPageSize, true, true, true, false, kEptNone});
  }
  const uint64_t address_mask = X86Pte::kAddressMask & ((uint64_t{1} << maxphyaddr_) - 1);
  const uint32_t error_bits = access_error_bits(access, ctx);
  uint64_t table = ctx.cr3 & address_mask;
  bool writable = true;
  bool user = true;
  bool executable = true;
  for (unsigned level = X86Pte::kLevels;; --level) {
    const Gpa entry_gpa{table + Walker::index(gva.value(), level) * sizeof(X86Pte)};
    const EptLookup ref = p2m_.lookup(entry_gpa, Access::kWrite);
    if (const auto* v = std::get_if<EptViolation>(&ref)) {
      return NestedEptViolation{*v, gva, true, level};
    }
    auto* slot = reinterpret_cast<uint64_t*>(p2m_.frames().host_ptr(std::get<EptHit>(ref).hpa) +
                                             entry_gpa.page_offset());
    ++stats_.memory_references;
    const X86Pte pte(*slot);
    if (!pte.present()) return GuestPageFault{gva, error_bits};
    const bool large = (level == 2 || level == 3) && (pte.raw() & X86Pte::kPageSize) != 0;
    if ((pte.raw() & x86_reserved_bits(level, large, maxphyaddr_, ctx.nxe)) != 0) {
      return GuestPageFault{gva, error_bits | kPfPresent | kPfReserved};
    }
    writable = writable && pte.writable();
    user = user && pte.user();
    executable = executable && !(ctx.nxe && pte.no_execute());
    if (level > 1 && !large) {
      if (!pte.accessed()) *slot = pte.raw() | X86Pte::kAccessed;
      table = pte.address();
      continue;
    }
    if (!access_allowed(access, ctx, writable, user, executable)) {
      return GuestPageFault{gva, error_bits | kPfPresent};
    }
    const uint64_t ad = X86Pte::kAccessed | (access == Access::kWrite ? X86Pte::kDirty : 0);
    if ((pte.raw() & ad) != ad) *slot = pte.raw() | ad;
    const uint64_t size = Walker::span(level);
    const Gpa gpa{pte.page_base(level) | (gva.value() & (size - 1))};
    const bool global = (pte.raw() & X86Pte::kGlobal) != 0;
    return finish(gva, gpa, access,
                  NestedHit{{}, {}, nullptr, size, writable, user, executable, global, kEptNone});
  }
}

// The data access itself goes through the EPT last: a guest #PF takes priority over it
// (Vol 3C §29.3.3.3), and the guest leaf's A/D bits are already set when it faults.
NestedWalk NestedWalker::finish(Gva gva, Gpa gpa, Access access, NestedHit hit) {
  const EptLookup data = p2m_.lookup(gpa, access);
  if (const auto* v = std::get_if<EptViolation>(&data)) {
    return NestedEptViolation{*v, gva, false, 0};
  }
  const EptHit& page = std::get<EptHit>(data);
  hit.gpa = gpa;
  hit.hpa = page.hpa;
  hit.host_page = p2m_.frames().host_ptr(page.hpa);
  hit.ept_perms = page.perms;
  return hit;
}

}  // namespace densevm
