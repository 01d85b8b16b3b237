#include "vmm/nested_mmu.h"

#include "vmm/ept_violation.h"

namespace densevm {

Translation NestedMmu::translate(Gva va, Access access, const PagingContext& ctx) {
  for (int attempt = 0; attempt < kMaxEptResolutions; ++attempt) {
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
    const EptResolution r = resolve_ept_violation(memory_, v.violation, access, v.during_table_walk);
    switch (r.kind) {
      case EptResolution::Kind::kRetry:
        demand_faults_ += r.demand_fault;
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
