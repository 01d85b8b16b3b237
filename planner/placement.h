// Placement: VMs onto hosts of one memory size, each host's memory being what its VMs hold
// with dedup (their distinct non-zero pages together, plus the zero frame), against the
// sharing-oblivious baseline. As Memory Buddies (Wood et al., VEE 2009) does from page
// fingerprints:
//
// - baseline: first-fit decreasing on each VM's own deduplicated size, blind to what VMs
//   share (what a planner without fingerprints does); its hosts then run dedup anyway;
// - sharing-aware: two greedy orders — VMs largest first, each onto the open host where it
//   adds the fewest pages (shares the most), a new host when none has room; and host by host,
//   the largest VM left then the VM that adds the fewest pages while one fits — each followed
//   by emptying hosts while their VMs fit elsewhere, the better kept; then, for a fleet of at
//   most `exact_max_vms` VMs with exact page sets, an exact model (exact_placement.h) proves
//   or improves the host count.
//
// Each VM also costs its host the VMM's own memory (`vmm`, vmm_overhead.h), in whole pages.
//
// Both open as many hosts as they need: `fits` says whether that is within the fleet's.
//
//   PlaceResult r = place(fleet, {.host_bytes = 16 << 30, .hosts = 8});
//   size_t saved = r.baseline.hosts() - r.aware.hosts();
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "planner/fleet.h"
#include "planner/vmm_overhead.h"

namespace densevm::planner {

struct PlaceOptions {
  uint64_t host_bytes = 0;
  unsigned headroom_percent = 10;
  size_t hosts = 0;            // in the fleet
  size_t exact_max_vms = 16;   // the exact model's limit
  int exact_node_limit = 100000;  // branch-and-bound nodes: deterministic, unlike a time limit
  VmmOverhead vmm{};           // the VMM's own memory per VM, on its host beside the pages
};

struct Placement {
  std::string method;
  std::vector<size_t> host_of;       // per VM
  std::vector<uint64_t> host_pages;  // per host, with dedup, the VMM's overhead included
  std::vector<uint64_t> host_vmm_pages;  // per host: of those, the VMM's overhead
  bool optimal = false;              // proven to need the fewest hosts
  [[nodiscard]] size_t hosts() const { return host_pages.size(); }
};

struct PlaceResult {
  uint64_t capacity_pages = 0;   // a host's memory after headroom
  size_t hosts_available = 0;
  Placement baseline;            // first-fit decreasing, sharing-oblivious
  Placement aware;               // sharing-aware
  std::string exact_note;        // why the exact model did or did not run
  [[nodiscard]] bool baseline_fits() const { return baseline.hosts() <= hosts_available; }
  [[nodiscard]] bool aware_fits() const { return aware.hosts() <= hosts_available; }
};

// Throws PlanError for no hosts, or a VM that needs more than a host holds.
[[nodiscard]] PlaceResult place(const Fleet& fleet, const PlaceOptions& options);
// A host's guest pages with dedup for these VMs (also the zero frame if one has zero pages).
[[nodiscard]] uint64_t host_pages_of(const Fleet& fleet, const std::vector<size_t>& vms);

}  // namespace densevm::planner
