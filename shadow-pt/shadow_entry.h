// Shadow entries: how a guest paging entry and its EPT leaf become one host-format x86-64
// entry of a shadow table (SDM Vol 3A §4.5, Tables 4-15 to 4-20).
//
// Upper shadow entries copy the guest entry's R/W, U/S and XD so that, as in hardware, the
// rights of a translation are the AND over the four levels. A leaf (always 4 KiB: guest
// large pages are split) carries guest AND EPT AND "not write-tracked", and is writable only
// once the guest D bit and the EPT D bit are set, so the first write always walks.
//
//   X86Pte upper = shadow_upper_entry(guest_pde, /*nxe=*/true);
//   X86Pte leaf = shadow_leaf_entry(guest_pte, hpa, kEptRwx, /*ept_dirty=*/true, false, true);
//   bool stale = !shadow_leaf_still_valid(leaf, fresh);
#pragma once

#include <cstdint>

#include "core/x86_pte.h"
#include "ept/ept_entry.h"

namespace densevm {

// Bit 9 is ignored by the processor in every paging-structure entry (SDM Vol 3A Table 4-19):
// "the guest and the EPT allow writes; W is withheld only because the page is write-tracked
// as a guest page table". Lets a tracked write skip the guest walk, and lets W come back
// without a walk when tracking stops.
inline constexpr uint64_t kShadowWriteTracked = uint64_t{1} << 9;
inline constexpr uint64_t kShadowRightsMask =
    X86Pte::kPresent | X86Pte::kWritable | X86Pte::kUser | X86Pte::kNoExecute;

// The table entry pointing at the shadow of the table `guest` points at. XD is only
// meaningful with EFER.NXE (it is a reserved bit otherwise, and the walk faulted on it).
[[nodiscard]] constexpr uint64_t shadow_upper_rights(X86Pte guest, bool nxe) {
  uint64_t rights = X86Pte::kPresent | (guest.raw() & (X86Pte::kWritable | X86Pte::kUser));
  if (nxe && guest.no_execute()) rights |= X86Pte::kNoExecute;
  return rights;
}

// A 4 KiB leaf for the page at hpa that the guest leaf `guest` (4 KiB or large) maps.
// Returns a non-present entry when the page cannot be shadowed (EPT not readable: x86 has no
// execute-only pages, so such pages always take the walk).
[[nodiscard]] constexpr X86Pte shadow_leaf_entry(X86Pte guest, Hpa hpa, EptPerms ept,
                                                 bool ept_dirty, bool pt_tracked, bool nxe) {
  if ((ept & kEptRead) == 0) return X86Pte();
  uint64_t raw = hpa.value() | X86Pte::kPresent | (guest.raw() & X86Pte::kUser);
  if ((nxe && guest.no_execute()) || (ept & kEptExec) == 0) raw |= X86Pte::kNoExecute;
  // SDM §4.8: D must be set by a write before the page may be written without a walk; the
  // EPT D bit likewise (§29.3.5), or dirty logging would miss the write.
  const bool write_ok = guest.writable() && guest.dirty() && (ept & kEptWrite) != 0 && ept_dirty;
  if (write_ok) raw |= pt_tracked ? kShadowWriteTracked : X86Pte::kWritable;
  return X86Pte(raw);
}

[[nodiscard]] constexpr bool shadow_write_capable(X86Pte e) {
  return (e.raw() & (X86Pte::kWritable | kShadowWriteTracked)) != 0;
}

// A resync keeps a leaf when a fresh derivation maps the same frame with the same rights,
// or with more write rights (a D bit set meanwhile); anything else is dropped.
[[nodiscard]] constexpr bool shadow_leaf_still_valid(X86Pte current, X86Pte fresh) {
  if (!fresh.present() || current.frame() != fresh.frame()) return false;
  const uint64_t fixed = X86Pte::kUser | X86Pte::kNoExecute;
  if ((current.raw() & fixed) != (fresh.raw() & fixed)) return false;
  return !shadow_write_capable(current) || shadow_write_capable(fresh);
}

static_assert((kShadowWriteTracked & (X86Pte::kAddressMask | kShadowRightsMask)) == 0,
              "the software bit lies in an ignored position");
static_assert(!shadow_leaf_entry(X86Pte(X86Pte::kPresent), Hpa{0x1000}, kEptExec, true, false,
                                 true).present(),
              "execute-only EPT pages are never shadowed");

}  // namespace densevm
