#include "mmu/guest_walk.h"

#include "mmu/paging_rules.h"

namespace densevm {
namespace {

using Walker = PageTableWalker<X86Pte>;

[[nodiscard]] constexpr EptPerms required(Access access) {
  switch (access) {
    case Access::kRead: return kEptRead;
    case Access::kWrite: return kEptWrite;
    case Access::kExec: return kEptExec;
  }
  return kEptRwx;
}

// One EPT reference: kAccess is the processor's lookup (A/D, counted); kPeek only inspects.
class EptReader {
 public:
  EptReader(GuestMemory& memory, WalkMode mode, GuestWalk& w) : memory_(memory), mode_(mode), w_(w) {}

  // The frame behind gpa if the EPT allows `access`; otherwise fills w_.violation.
  [[nodiscard]] bool read(Gpa gpa, Access access, Hpa& hpa, EptPerms& perms, bool& dirty) {
    if (mode_ == WalkMode::kAccess) {
      const uint64_t before = memory_.ept_stats().walk_references;
      const EptLookup r = memory_.lookup(gpa, access);
      w_.references += memory_.ept_stats().walk_references - before;
      if (const auto* v = std::get_if<EptViolation>(&r)) {
        w_.violation = *v;
        return false;
      }
      hpa = std::get<EptHit>(r).hpa;
      perms = std::get<EptHit>(r).perms;
      dirty = access == Access::kWrite;
      return true;
    }
    w_.references += 4;
    const std::optional<P2mLeaf> leaf = memory_.mapping(gpa.page_base());
    const EptPerms need = required(access);
    if (!leaf || (leaf->effective_perms & need) != need) {
      w_.violation = EptViolation{gpa, access, leaf ? leaf->effective_perms : kEptNone,
                                  leaf.has_value()};
      return false;
    }
    hpa = leaf->hpa;
    perms = leaf->effective_perms;
    dirty = leaf->dirty;
    return true;
  }

 private:
  GuestMemory& memory_;
  WalkMode mode_;
  GuestWalk& w_;
};

// The data access goes through the EPT last: a guest #PF takes priority over it (Vol 3C
// §29.3.3.3), and the guest leaf's A/D bits are already set when it faults.
void finish(EptReader& ept, GuestWalk& w, Access access) {
  if (!ept.read(w.gpa, access, w.hpa, w.ept_perms, w.ept_dirty)) {
    w.kind = GuestWalk::Kind::kDataViolation;
    return;
  }
  w.kind = GuestWalk::Kind::kHit;
}

}  // namespace

// SDM Vol 3A §4.5.4 (4-level paging) under Vol 3C §29.3.3.3 (order of EPT violations and
// #PF): each guest entry's address is a guest-physical address translated through the EPT
// before it is read. With EPT A/D enabled (§29.3.4) every guest paging-structure access counts
// as a write for EPT purposes, so table pages must be EPT-writable (a copy-on-write table page
// is broken on the first walk). A guest entry gets its A bit (§4.8) once it has passed the
// present and reserved-bit checks; the leaf gets A (and D for a write) only when the access is
// allowed, as Intel processors do: a refused access leaves the leaf untouched.
GuestWalk walk_guest(GuestMemory& memory, Gva gva, Access access, const PagingContext& ctx, WalkMode mode,
                     unsigned maxphyaddr) {
  GuestWalk w;
  EptReader ept(memory, mode, w);
  if (!ctx.paging) {
    w.gpa = Gpa{gva.value()};
    w.writable = w.user = w.executable = true;
    finish(ept, w, access);
    return w;
  }
  const uint32_t error_bits = access_error_bits(access, ctx);
  Gpa table = guest_root_table(ctx.cr3, maxphyaddr);
  w.writable = w.user = w.executable = true;
  for (unsigned level = X86Pte::kLevels;; --level) {
    const Gpa entry_gpa = table + Walker::index(gva.value(), level) * sizeof(X86Pte);
    Hpa hpa;
    EptPerms perms = kEptNone;
    bool unused_dirty = false;
    // A table outside RAM (device space, past the end of RAM, above it all) reads as all-ones
    // and ignores the walk's A/D writes, as a chipset answers where no memory does
    // (vmm/cpu/UNDEFINED.md, "Memory outside RAM"): with MAXPHYADDR below 52 an all-ones
    // entry has reserved bits at every level, so the walk ends in #PF(P, RSVD).
    uint64_t absent_table = ~uint64_t{0};
    uint64_t* slot = &absent_table;
    if (ept.read(entry_gpa, Access::kWrite, hpa, perms, unused_dirty)) {
      slot = reinterpret_cast<uint64_t*>(memory.frames().host_ptr(hpa) + entry_gpa.page_offset());
    } else if (memory.is_ram(entry_gpa)) {
      w.kind = GuestWalk::Kind::kTableViolation;
      return w;
    }
    ++w.references;
    X86Pte pte(*slot);
    w.lowest_level = level;
    w.path[level - 1] = GuestWalkLevel{table, pte};
    if (!pte.present()) {
      w.error_code = error_bits;
      return w;
    }
    const bool large = (level == 2 || level == 3) && (pte.raw() & X86Pte::kPageSize) != 0;
    if ((pte.raw() & x86_reserved_bits(level, large, maxphyaddr, ctx.nxe)) != 0) {
      w.error_code = error_bits | kPfPresent | kPfReserved;
      return w;
    }
    w.writable = w.writable && pte.writable();
    w.user = w.user && pte.user();
    w.executable = w.executable && !(ctx.nxe && pte.no_execute());
    if (level > 1 && !large) {
      if (mode == WalkMode::kAccess && !pte.accessed()) *slot = pte.raw() | X86Pte::kAccessed;
      w.path[level - 1].entry = X86Pte(*slot);
      table = Gpa{pte.address()};
      continue;
    }
    if (!access_allowed(access, ctx, w.writable, w.user, w.executable)) {
      w.error_code = error_bits | kPfPresent;
      return w;
    }
    const uint64_t ad = X86Pte::kAccessed | (access == Access::kWrite ? X86Pte::kDirty : 0);
    if (mode == WalkMode::kAccess && (pte.raw() & ad) != ad) *slot = pte.raw() | ad;
    w.path[level - 1].entry = X86Pte(*slot);
    w.leaf_level = level;
    const uint64_t size = Walker::span(level);
    w.gpa = Gpa{pte.page_base(level) | (gva.value() & (size - 1))};
    finish(ept, w, access);
    return w;
  }
}

}  // namespace densevm
