#include "mmu/walk_and_resolve.h"

#include <cstdio>

namespace densevm {

EptResolution resolve_ept_violation(GuestMemory& memory, const EptViolation& v, Access access,
                                    bool during_table_walk) {
  EptResolution r;
  r.gpa = v.gpa;
  if (v.mapped) {
    if (access != Access::kWrite && !during_table_walk) {
      r.reason = "EPT permission violation with no handler";
      return r;
    }
    // Walk A/D updates and data writes to a read-only (shared) page: copy-on-write.
    if (memory.break_cow(v.gpa) != GuestMemory::Populate::kMapped) {
      r.reason = "copy-on-write break failed";
      return r;
    }
    r.kind = EptResolution::Kind::kRetry;
    return r;
  }
  // A table walk may set A/D bits: a write.
  switch (memory.populate(v.gpa, access == Access::kWrite || during_table_walk)) {
    case GuestMemory::Populate::kMapped:
      r.kind = EptResolution::Kind::kRetry;
      r.demand_fault = true;
      return r;
    case GuestMemory::Populate::kOutOfMemory:
      r.reason = "host out of memory for guest RAM";
      return r;
    case GuestMemory::Populate::kSourceCorrupt:
      r.reason = "snapshot page failed its checksum";
      return r;
    case GuestMemory::Populate::kNotRam:
      break;
  }
  if (during_table_walk) {
    // walk_guest reads a table outside RAM as all-ones and never asks for one: a table
    // violation is always RAM, so this is the VMM's own failure, not the guest's.
    r.reason = "guest page table walk asked for a table outside RAM";
    return r;
  }
  r.kind = EptResolution::Kind::kMmio;
  return r;
}

Translation ram_translation(const FrameStore& frames, const PageTracking& tracking, const GuestWalk& w,
                            Access access) {
  Translation t;
  t.kind = Translation::Kind::kRam;
  t.host_page = frames.host_ptr(w.hpa);
  t.gpa = w.gpa.page_base();
  t.writable = access == Access::kWrite;
  t.user = w.user;
  t.executable = access == Access::kExec;
  t.write_tracked = tracking.tracked(t.gpa);
  return t;
}

Translation fatal_translation(const char* what, Gpa gpa) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s (guest-physical 0x%llx)", what,
                static_cast<unsigned long long>(gpa.value()));
  Translation t;
  t.kind = Translation::Kind::kFatal;
  t.reason = buf;
  return t;
}

}  // namespace densevm
