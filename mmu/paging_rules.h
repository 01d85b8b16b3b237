// The x86 permission rules both guest-table walkers apply (nested and shadow), in one place.
//
// SDM Vol 3A §4.6 with SMEP, SMAP and protection keys off, and the #PF error-code bits that
// describe the access (§4.7).
//
//   if (!access_allowed(access, ctx, writable, user, executable))
//     return GuestPageFault{gva, access_error_bits(access, ctx) | kPfPresent};
#pragma once

#include <cstdint>

#include "mmu/mmu.h"

namespace densevm {

// I/D is set for fetches only when NXE (or SMEP, not modelled) is on.
[[nodiscard]] inline uint32_t access_error_bits(Access access, const PagingContext& ctx) {
  uint32_t error = 0;
  if (access == Access::kWrite) error |= kPfWrite;
  if (ctx.user) error |= kPfUser;
  if (access == Access::kExec && ctx.nxe) error |= kPfFetch;
  return error;
}

// User accesses need U/S at every level; writes need R/W at every level unless a supervisor
// write runs with CR0.WP = 0; fetches need no XD.
[[nodiscard]] inline bool access_allowed(Access access, const PagingContext& ctx, bool writable,
                                         bool user, bool executable) {
  if (ctx.user && !user) return false;
  switch (access) {
    case Access::kRead: return true;
    case Access::kWrite: return writable || (!ctx.user && !ctx.wp);
    case Access::kExec: return executable;
  }
  return false;
}

}  // namespace densevm
