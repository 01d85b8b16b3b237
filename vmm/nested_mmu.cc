#include "vmm/nested_mmu.h"

#include <cstdio>
#include <string>

namespace densevm {
namespace {

Translation fatal(const char* what, Gpa gpa) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s (guest-physical 0x%llx)", what,
                static_cast<unsigned long long>(gpa.value()));
  Translation t;
  t.kind = Translation::Kind::kFatal;
  t.reason = buf;
  return t;
}

}  // namespace

Translation NestedMmu::translate(Gva va, Access access, const PagingContext& ctx) {
  // Each retry maps one more page (a table level or the data page): at most five.
  for (int attempt = 0; attempt < 6; ++attempt) {
    const NestedWalk w = walker_.walk(va, access, ctx);
    if (const auto* hit = std::get_if<NestedHit>(&w)) {
      Translation t;
      t.kind = Translation::Kind::kRam;
      t.host_page = hit->host_page;
      t.gpa = hit->gpa.page_base();
      t.writable = access == Access::kWrite;
      t.executable = access == Access::kExec;
      t.user = hit->user;
      t.write_tracked = tracking_.tracked(t.gpa);
      return t;
    }
    if (const auto* pf = std::get_if<GuestPageFault>(&w)) {
      Translation t;
      t.kind = Translation::Kind::kPageFault;
      t.error_code = pf->error_code;
      return t;
    }
    const auto& v = std::get<NestedEptViolation>(w);
    const Gpa gpa = v.violation.gpa;
    if (v.violation.mapped) {
      if (access != Access::kWrite && !v.during_table_walk) {
        return fatal("EPT permission violation with no handler", gpa);
      }
      // Walk A/D updates and data writes to a read-only (shared) page: copy-on-write.
      if (memory_.break_cow(gpa) != GuestMemory::Populate::kMapped) {
        return fatal("copy-on-write break failed", gpa);
      }
      continue;
    }
    switch (memory_.populate(gpa)) {
      case GuestMemory::Populate::kMapped:
        ++demand_faults_;
        continue;
      case GuestMemory::Populate::kOutOfMemory:
        return fatal("host out of memory for guest RAM", gpa);
      case GuestMemory::Populate::kNotRam:
        break;
    }
    if (v.during_table_walk) return fatal("guest page table outside RAM", gpa);
    Translation t;
    t.kind = Translation::Kind::kMmio;
    t.gpa = gpa;
    return t;
  }
  return fatal("translation did not settle", Gpa{0});
}

}  // namespace densevm
