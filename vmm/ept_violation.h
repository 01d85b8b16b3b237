// EPT violations met during a guest walk, resolved the way NestedMmu resolves them, so that
// both MMU modes give a guest the same outcome: demand paging for untouched RAM,
// copy-on-write for writes (and walk A/D updates) to shared read-only frames, MMIO for
// device space, and a stopped VM for anything else.
//
//   EptResolution r = resolve_ept_violation(memory, v, access, during_table_walk);
//   if (r.kind == EptResolution::Kind::kRetry) continue;   // walk again
//   if (r.kind == EptResolution::Kind::kMmio) return mmio(r.gpa);
#pragma once

#include <cstdint>
#include <string>

#include "ept/p2m.h"
#include "vmm/guest_memory.h"
#include "vmm/mmu.h"

namespace densevm {

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
[[nodiscard]] EptResolution resolve_ept_violation(GuestMemory& memory, const EptViolation& v,
                                                  Access access, bool during_table_walk);

// A kFatal Translation naming the guest-physical address.
[[nodiscard]] Translation fatal_translation(const char* what, Gpa gpa);

}  // namespace densevm
