// RunServices: the host services of a run, stepped between epochs while no VM runs —
// balloon targets (--balloon-target, --host-budget) and page sharing (--dedup). `run` and
// `run --checkpoint-at` share them; a checkpoint that freezes its VM into a template hands
// them over to the VM going on from it (go_on) or to its clones (attach): the frozen VM must
// not change any more.
//
//   RunServices services(o, frames);     // declared after the VMs: it goes first
//   services.attach(vms);
//   services.go_on(restored);            // the same VMs, restored from their templates
//   loop.run(vms, [&] { services.step(); });
//   add_dedup_stats(doc, services.dedup_stats() ? &*services.dedup_stats() : nullptr);
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "balloon/balloon_policy.h"
#include "cli/options.h"
#include "core/frame_store.h"
#include "dedup/dedup_scanner.h"
#include "dedup/scan_rate.h"
#include "vmm/vm.h"

namespace densevm::cli {

class RunServices {
 public:
  RunServices(const RunOptions& options, FrameStore& frames);

  // Serves `vms` from now on (they must outlive the services' use of them), with a fresh
  // policy and scanner; VMs served before are left alone. Sets the first balloon targets.
  void attach(std::span<Vm* const> vms);
  // The VMs served go on as new objects, restored from templates of themselves: the balloon
  // policy goes on with what it knew, as if nothing happened (the guest can tell: statistics
  // requests, targets); the scanner starts over on their memory, its counters going on.
  void go_on(std::span<Vm* const> vms);
  // The balloon policy's state, for a rollback loop (the scanner's is not kept: a rollback
  // loop refuses --dedup).
  [[nodiscard]] std::optional<BalloonPolicy::Saved> save() const;
  void restore(const std::optional<BalloonPolicy::Saved>& saved);
  // Between epochs: VMs that stopped leave a host budget, the policy sets targets, the
  // scanner merges what the virtual time the VMs ran earned it.
  void step();

  // The scanner's statistics, counters summed over every attach; nullopt without --dedup.
  [[nodiscard]] std::optional<DedupStats> dedup_stats() const;

 private:
  const RunOptions& options_;
  FrameStore& frames_;
  std::vector<Vm*> vms_;
  std::unique_ptr<BalloonPolicy> balloon_;
  std::unique_ptr<DedupScanner> dedup_;
  void start_dedup();
  DedupStats earlier_;  // counters of the scanners before the last attach
  ScanRate scan_rate_;
  uint64_t virtual_time_seen_ = 0;  // summed over the VMs: each VM's time earns scan budget
};

}  // namespace densevm::cli
