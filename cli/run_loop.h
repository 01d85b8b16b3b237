// RunLoop: the one loop every command runs its VMs with — `run` to the end, to a checkpoint
// and through rollback rounds, a fleet's VMs, clones, restores. The scheduler runs the VMs on
// --threads workers in slices of --slice instructions; the run's host services step between
// epochs; a budget can stop VMs at a checkpoint. On a terminal, a run that takes longer than
// two seconds shows a progress line on stderr (VMs running, seconds, host RSS). The loop holds
// the run's NUMA placement (--numa, on the host topology read once): the FrameStore's pools
// come from it, each VM's home is placed by it, and the scheduler's workers are pinned by it.
//
//   RunLoop loop(o.loop);
//   if (!loop.run_to_checkpoint(vms, checkpoint, [&] { services.step(); })) return 1;
//   loop.run(vms, [&] { services.step(); });   // to the end
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "cli/options.h"
#include "numa/placement.h"
#include "numa/topology.h"
#include "vmm/vm.h"

namespace densevm::cli {

// The VMs as the scheduler and the services take them.
[[nodiscard]] std::vector<Vm*> list_of(const std::vector<std::unique_ptr<Vm>>& vms);

class RunLoop {
 public:
  using Clock = std::chrono::steady_clock;
  // Called between epochs, while no VM runs: the run's host services.
  using Between = std::function<void()>;
  // A VM's instructions for the next epoch: 0 sits it out (Scheduler::set_budget).
  using Budget = std::function<uint64_t(const Vm&)>;

  // Throws std::invalid_argument (one line) for a --numa node the host lacks.
  explicit RunLoop(const LoopOptions& options, Topology host = read_host_topology());

  // The run's placement, and a FrameStore of capacity_bytes laid out and bound by it.
  [[nodiscard]] NumaPlacement& numa() { return numa_; }
  [[nodiscard]] const NumaPlacement& numa() const { return numa_; }
  [[nodiscard]] std::unique_ptr<FrameStore> make_frames(uint64_t capacity_bytes) const;

  // Runs every VM to its end, or with a budget until no running VM has one. The same results
  // whatever the number of threads.
  void run(const std::vector<std::unique_ptr<Vm>>& vms, const Between& between = nullptr,
           const Budget& budget = nullptr);
  // Runs every VM to the checkpoint: exactly `at` retired instructions (a slice's budget in
  // virtual time never retires more), or right after the guest's `at_marker`-th marker (a
  // marker ends the slice); a VM there sits out the epochs until all are. False, with the
  // reason on stderr, if a VM ended first.
  [[nodiscard]] bool run_to_checkpoint(const std::vector<std::unique_ptr<Vm>>& vms, const CheckpointOptions& c,
                                       const Between& between = nullptr);

  [[nodiscard]] unsigned threads() const { return threads_; }
  [[nodiscard]] uint64_t slice() const { return slice_; }
  // Host time since the loop was made: the command's wall time.
  [[nodiscard]] double seconds() const { return seconds_since(start_); }
  [[nodiscard]] static double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  }

 private:
  unsigned threads_;
  uint64_t slice_;
  NumaPlacement numa_;
  Clock::time_point start_;
  bool terminal_;
};

}  // namespace densevm::cli
