// The one resolve-and-retry loop of both MMU modes. A soft-TLB miss (nested) or a hidden
// fault (shadow) walks the guest's tables through the EPT (walk_guest); a guest #PF goes back
// to the guest; an EPT violation is resolved the same way in both modes — demand paging for
// untouched RAM, copy-on-write for writes (and walk A/D updates) to read-only frames, MMIO for
// device space, a stopped VM for anything else — and the walk starts again from the top, since
// the resolution changed the P2M. What a mode does with a hit (the shadow builds its path from
// it) is its on_hit.
//
//   WalkCounters counters;
//   Translation t = walk_and_resolve(memory, tracking, va, access, ctx, counters,
//                                    [&](GuestWalk& w) { install(va, ctx, w); });
#pragma once

#include <cstdint>

#include "core/page_tracking.h"
#include "ept/p2m.h"
#include "mmu/guest_memory.h"
#include "mmu/guest_walk.h"
#include "mmu/mmu.h"

namespace densevm {

// What the loop did, for a mode's statistics.
struct WalkCounters {
  uint64_t walks = 0;
  uint64_t memory_references = 0;  // guest entries + EPT entries read (24 per full walk)
  uint64_t guest_page_faults = 0;
  uint64_t ept_violations = 0;
  uint64_t demand_faults = 0;  // RAM pages populated on first touch
};

struct EptResolution {
  enum class Kind : uint8_t { kRetry, kMmio, kFatal };
  Kind kind = Kind::kFatal;
  Gpa gpa;
  bool demand_fault = false;  // kRetry: a RAM page was populated
  const char* reason = "";    // kFatal
};

// How many violations one translation may resolve before giving up: per level (four table
// pages and the data page) one demand fill and one copy-on-write break (a page fetched shared
// from a snapshot, then written by the walk's A/D update), and room to spare.
inline constexpr int kMaxEptResolutions = 12;

// May change the P2M (populate, COW break): listeners are told before this returns.
[[nodiscard]] EptResolution resolve_ept_violation(GuestMemory& memory, const EptViolation& v, Access access,
                                                  bool during_table_walk);

// A kFatal Translation naming the guest-physical address.
[[nodiscard]] Translation fatal_translation(const char* what, Gpa gpa);

// The Translation of a hit: the page, the rights of this access (for the soft TLB), and
// whether writes to the page must take the slow path (write-tracked).
[[nodiscard]] Translation ram_translation(const FrameStore& frames, const PageTracking& tracking, const GuestWalk& w,
                                          Access access);

// on_hit(GuestWalk&) runs on a hit before the Translation is made of it.
template <class OnHit>
[[nodiscard]] Translation walk_and_resolve(GuestMemory& memory, const PageTracking& tracking, Gva va, Access access,
                                           const PagingContext& ctx, WalkCounters& counters, OnHit&& on_hit) {
  for (int attempt = 0; attempt < kMaxEptResolutions; ++attempt) {
    GuestWalk w = walk_guest(memory, va, access, ctx, WalkMode::kAccess);
    ++counters.walks;
    counters.memory_references += w.references;
    if (w.kind == GuestWalk::Kind::kHit) {
      on_hit(w);
      return ram_translation(memory.frames(), tracking, w, access);
    }
    if (w.kind == GuestWalk::Kind::kPageFault) {
      ++counters.guest_page_faults;
      Translation t;
      t.kind = Translation::Kind::kPageFault;
      t.error_code = w.error_code;
      return t;
    }
    ++counters.ept_violations;
    const EptResolution r =
        resolve_ept_violation(memory, w.violation, access, w.kind == GuestWalk::Kind::kTableViolation);
    switch (r.kind) {
      case EptResolution::Kind::kRetry:
        counters.demand_faults += r.demand_fault;
        continue;
      case EptResolution::Kind::kMmio: {
        Translation t;
        t.kind = Translation::Kind::kMmio;
        t.gpa = r.gpa;
        return t;
      }
      case EptResolution::Kind::kFatal:
        return fatal_translation(r.reason, r.gpa);
    }
  }
  return fatal_translation("translation did not settle", Gpa{va.value()});
}

}  // namespace densevm
