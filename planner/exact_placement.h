// The exact placement model for small fleets, solved with COIN-OR CBC: is there a placement
// on fewer hosts than the greedy one found?
//
// Pages are grouped into classes by the set of VMs that hold them (with n VMs, at most
// 2^n - 1 classes, in practice a few dozen). Binary x[v][h] puts VM v on host h, y[h] uses
// host h, and z[c][h] in [0, 1] says class c is on host h: z[c][h] >= x[v][h] for each VM v
// of the class. A host holds its VMs' own pages (with each VM's VMM overhead, `vmm_pages`)
// and every class present:
//   sum_v own[v] x[v][h] + sum_c pages[c] z[c][h] <= capacity y[h],
// each VM on one host, y[h] >= y[h+1] and x[v][h] = 0 for h > v (hosts are interchangeable),
// and the model minimises sum_h y[h]. The greedy placement bounds h; a node limit, not a time
// limit, bounds the search, so a plan is the same on any machine.
//
// Why CBC and not GLPK: CBC's branch-and-cut (Cgl cuts, feasibility pump, RINS) closes the
// weak bin-packing relaxation far faster than GLPK's branch-and-bound, and CBC is EPL-2.0,
// which puts no condition on densevm's own licence, where linking GLPK (GPL-3.0) would make
// the densevm binary GPL.
//
//   ExactOutcome e = refine_exact(fleet, vmm_pages, capacity_pages, greedy_host_of, options);
//   if (e.host_of) use(*e.host_of);   // fewer hosts, optimal if e.optimal
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "planner/fleet.h"
#include "planner/placement.h"

namespace densevm::planner {

struct ExactOutcome {
  std::optional<std::vector<size_t>> host_of;  // a placement on fewer hosts than the greedy's
  bool optimal = false;   // the greedy's (or host_of's) host count is proven the least
  std::string note;       // what was done, for the report
};

// greedy: the greedy placement's host per VM, the model's bound and first solution. The
// returned host_of may number hosts with gaps.
[[nodiscard]] ExactOutcome refine_exact(const Fleet& fleet, const std::vector<uint64_t>& vmm_pages, uint64_t capacity_pages,
                                        const std::vector<size_t>& greedy, const PlaceOptions& options);

}  // namespace densevm::planner
