// Fit: the host memory a mix of VMs needs under each memory technique, and how many VMs of
// that mix a host holds with it (the consolidation ratio). In pages of 4 KiB:
//
// | technique      | host memory for the mix |
// |----------------|-------------------------|
// | `none`         | every VM's configured RAM (a host without overcommit) |
// | `zero`         | non-zero pages only: never-touched and zero pages cost nothing (demand paging, zero-page elision) |
// | `dedup`        | distinct non-zero pages of all VMs together (content-hash sharing), plus the shared zero frame |
// | `dedup_scoped` | the same within each sharing scope (`--dedup-scope host\|group\|vm`, VM K in group K mod G), as densevm's dedup scopes it |
// | `clones`       | every VM a clone of one template (the first VM): the template's non-zero pages, plus each VM's non-zero pages that differ from the template's at the same address |
// | `balloon`      | each VM ballooned down to its working set where its image records one, else its non-zero pages |
//
// Each technique's host memory is the guest's pages plus the VMM's own memory per VM
// (`vmm`, vmm_overhead.h: none by default here, the measured model on the command line); a
// VM of `clones` after the template carries the clone's share of it.
//
// VMs that fit: the mix's average cost per VM against the host's memory after headroom,
// floor(n x usable / host memory); copies of the mix beyond the first are costed like the
// first, sharing nothing with it (a lower bound for dedup and clones). The consolidation
// ratio is none's host memory over the technique's: how many times as many VMs of the mix
// the technique fits, before rounding.
//
//   FitResult r = fit(fleet, {.host_bytes = 64 << 30, .headroom_percent = 10});
//   for (const TechniqueFit& t : r.techniques) print(technique_name(t.technique), t.host_bytes);
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "dedup/dedup_scope.h"
#include "planner/fleet.h"
#include "planner/vmm_overhead.h"

namespace densevm::planner {

// A plan that cannot be made (a host too small for any VM, no hosts): one line.
struct PlanError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Technique : uint8_t { kNone, kZero, kDedup, kDedupScoped, kClones, kBalloon };
inline constexpr std::array<Technique, 6> kTechniques = {Technique::kNone,   Technique::kZero,
                                                         Technique::kDedup,  Technique::kDedupScoped,
                                                         Technique::kClones, Technique::kBalloon};
[[nodiscard]] const char* technique_name(Technique t);
[[nodiscard]] const char* scope_name(DedupScope s);

struct FitOptions {
  uint64_t host_bytes = 0;
  unsigned headroom_percent = 10;          // kept free on the host
  DedupScope scope = DedupScope::kVm;      // for dedup_scoped
  unsigned groups = 1;                     // VM K belongs to group K mod groups
  VmmOverhead vmm{};                       // the VMM's own memory per VM (none: guest pages only)
  [[nodiscard]] uint64_t usable_bytes() const { return host_bytes / 100 * (100 - headroom_percent) + host_bytes % 100 * (100 - headroom_percent) / 100; }
};

struct TechniqueFit {
  Technique technique = Technique::kNone;
  uint64_t host_bytes = 0;       // for the whole mix: guest_bytes + vmm_bytes
  uint64_t guest_bytes = 0;      // the guests' pages
  uint64_t vmm_bytes = 0;        // the VMM's own memory for the mix's VMs
  uint64_t vms_that_fit = 0;
  double consolidation_ratio = 0;  // none's host_bytes over this one's
};

struct FitResult {
  uint64_t usable_bytes = 0;
  std::vector<TechniqueFit> techniques;  // kTechniques order
  unsigned working_sets_known = 0;       // VMs the balloon figure has a working set for
  [[nodiscard]] const TechniqueFit& of(Technique t) const { return techniques[static_cast<size_t>(t)]; }
};

// Host pages for the first m VMs of the fleet, for m = 1..n.
[[nodiscard]] std::vector<uint64_t> host_pages_curve(const Fleet& fleet, Technique t, const FitOptions& options);
// The VMM's bytes for the first m VMs of the fleet under technique t, for m = 1..n (with
// `clones`, every VM after the first is a clone).
[[nodiscard]] std::vector<uint64_t> vmm_bytes_curve(const Fleet& fleet, Technique t, const FitOptions& options);
// Throws PlanError if no technique fits a single VM of the mix on the host.
[[nodiscard]] FitResult fit(const Fleet& fleet, const FitOptions& options);
// Pages of `vm` that a clone of `tmpl` would have to own: non-zero and unlike the template's
// page at the same address. Exact when both hold their pages, else from position samples.
[[nodiscard]] uint64_t diverged_pages(const Fingerprint& vm, const Fingerprint& tmpl);

}  // namespace densevm::planner
