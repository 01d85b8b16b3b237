// The `--stats` document's NUMA part: `numa` (the setting, and per host node its frames, free
// memory and VMs; the CPUs each VM's slices ran on) and each VM's `numa` (home node, frames by
// node, remote mappings). Where frames are is the kernel's answer for our frames' host addresses
// (move_pages in query mode), not our bookkeeping: the pools only say where frames should be.
//
//   nlohmann::ordered_json doc = stats_document(vms, frames, seconds, threads);
//   add_numa_stats(doc, vms, frames, loop.numa());
#pragma once

#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/frame_store.h"
#include "numa/placement.h"
#include "vmm/vm.h"

namespace densevm::cli {

// Adds "numa" to doc and "numa" to each of doc["vms"] (same order as vms).
void add_numa_stats(nlohmann::ordered_json& doc, const std::vector<std::unique_ptr<Vm>>& vms,
                    const FrameStore& frames, const NumaPlacement& numa);

}  // namespace densevm::cli
