// The in-memory rollback loop of `run --checkpoint-at N --rollback-every M --rollbacks K`:
// every VM is checkpointed in memory (its state, and its RAM made copy-on-write) with the
// host services' state (balloon policy, dedup scanner), then K times all run M instructions
// and everything is put back, so every round does the same work.
//
//   nlohmann::ordered_json rounds = rollback_loop(vms, c, loop, services, between);
//   loop.run(vms, between);   // then on to the end, exactly as without the loop
#pragma once

#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/options.h"
#include "cli/run_loop.h"
#include "vmm/host_services.h"
#include "vmm/vm.h"

namespace densevm::cli {

// snapshot.rollbacks: guest pages mapped at the checkpoint, the host time taking it took, and
// per round, summed over the VMs: instructions run, pages put back and the host time of the
// rollback (the one wall-clock figure per round).
[[nodiscard]] nlohmann::ordered_json rollback_loop(const std::vector<std::unique_ptr<Vm>>& vms,
                                                   const CheckpointOptions& c, RunLoop& loop, HostServices& services,
                                                   const RunLoop::Between& between);

}  // namespace densevm::cli
