// Scheduler: runs many VMs on a few host worker threads, in epochs of virtual time.
//
// In each epoch every running VM runs one slice (a VM runs on one worker at a time); when
// all slices are done, the services hook runs alone — the one point where cross-VM
// services (the dedup scanner, balloon policy) may change any VM's memory. Guests never
// see which worker ran them or when, so a run is deterministic (DESIGN.md).
//
// On a NUMA host (set_nodes) the workers are shared out round-robin over the nodes VMs are
// homed on, each pinned to its node's CPUs, and a VM with a home node runs only on its node's
// workers while that node has any (fewer workers than such nodes); VMs without a home (or
// whose node got no worker) go to any worker.
//
//   Scheduler sched(vms, /*threads=*/2, /*slice=*/2'000'000);
//   sched.run([](size_t finished) { show_progress(finished); }, [] { dedup.step(); });
//   sched.set_budget([](const Vm& vm) { return to_checkpoint(vm); });  // then run() again
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "vmm/vm.h"

namespace densevm {

class Scheduler {
 public:
  Scheduler(std::vector<Vm*> vms, unsigned threads, uint64_t slice)
      : vms_(std::move(vms)), threads_(threads == 0 ? 1 : threads), slice_(slice) {}

  // Runs every VM until it exits or fails. `tick(finished)` is called from this thread
  // about five times a second (progress display); `between_epochs` after every epoch,
  // with no VM running.
  void run(const std::function<void(size_t finished)>& tick,
           const std::function<void()>& between_epochs = {});

  // From now on a VM runs min(slice, budget(vm)) instructions an epoch, and sits out while
  // that is 0; run() returns once no running VM has a budget (a checkpoint reached by all).
  void set_budget(std::function<uint64_t(const Vm&)> budget) { budget_ = std::move(budget); }

  // Workers by NUMA node: cpus[i] are node i's CPUs (node i is a VM's numa_home i).
  void set_nodes(std::vector<std::vector<int>> cpus) { node_cpus_ = std::move(cpus); }

  [[nodiscard]] uint64_t epochs() const { return epochs_; }

 private:
  std::vector<std::vector<int>> node_cpus_;
  std::vector<Vm*> vms_;
  unsigned threads_;
  uint64_t slice_;
  std::function<uint64_t(const Vm&)> budget_;
  uint64_t epochs_ = 0;
};

}  // namespace densevm
