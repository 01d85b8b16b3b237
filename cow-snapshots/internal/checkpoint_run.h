// What `run --checkpoint-at` and `restore` share: running a VM to its checkpoint, freezing
// it into a template that the VMs going on from it (itself, or clones) fetch their pages
// from while a thread saves it, and running VMs restored from one image to their end.
//
//   if (!run_to_checkpoint(vms, c, threads, slice)) return 1;
//   Frozen frozen = freeze(std::move(vm), c, {});
//   std::vector<std::unique_ptr<Vm>> vms = restore_clones(vm_image(frozen.tmpl), frames, sink, 3, 1);
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cow-snapshots/background_save.h"
#include "cow-snapshots/snapshot_command.h"
#include "cow-snapshots/vm_snapshot.h"
#include "cow-snapshots/vm_template.h"
#include "dedup/dedup_scanner.h"
#include "vmm/frame_store.h"
#include "vmm/vm.h"

namespace densevm::snapshot {

using Clock = std::chrono::steady_clock;
// Called between slices (epochs) while no VM runs: the run's host services (RunServices).
using Between = std::function<void()>;
[[nodiscard]] double seconds_since(Clock::time_point start);
// A count of instructions (or of anything else) given to `flag`; throws UsageError.
[[nodiscard]] uint64_t parse_count(const std::string& flag, const std::string& text);


// A VM frozen at its checkpoint and, with --save, the thread writing it to the file.
struct Frozen {
  std::shared_ptr<VmTemplate> tmpl;
  std::unique_ptr<BackgroundSave> save;
};
// The pause of a checkpoint that goes on: a full save of a VM restored lazily first fetches
// every page it still owes (encode_vm needs them, and the frozen memory must not change once
// other threads read it); then the VM becomes a template and the save starts. Throws
// std::runtime_error if a page cannot be fetched.
[[nodiscard]] Frozen freeze(std::unique_ptr<Vm> vm, const CheckpointOptions& c, const SaveOptions& options);
// The VM going on alone from its template, once the template's save has ended (a thread
// no longer reads it): between slices, the template hands its pages over (VmTemplate::
// hand_over) and drops, 16 MiB of guest-physical space at a time, those the VM already maps.
class Handover {
 public:
  Handover(Frozen& frozen, const GuestMemory& successor);
  void step();

 private:
  static constexpr uint64_t kChunk = uint64_t{16} << 20;
  Frozen& frozen_;
  const GuestMemory& successor_;
  uint64_t next_ = 0;  // guest-physical address the sweep has reached
  uint64_t end_ = 0;
  bool started_ = false;
};

// The snapshot.* fields of a checkpoint: where it was taken, how long the guest stood still
// and, with a save (waited for here), what was written and how long that took.
[[nodiscard]] nlohmann::ordered_json checkpoint_stats(uint64_t at, double pause, Frozen& frozen,
                                                      const CheckpointOptions& c, bool diff);

// `count` VMs from one image: vm ids 0..count-1, clone numbers first_clone + k (their
// generation ids).
[[nodiscard]] std::vector<std::unique_ptr<Vm>> restore_clones(const VmImage& image, FrameStore& frames,
                                                              const Vm::ConsoleSink& sink, unsigned count,
                                                              uint64_t first_clone, bool lazy = true);
// The VMs as the scheduler and the services take them.
[[nodiscard]] std::vector<Vm*> list_of(const std::vector<std::unique_ptr<Vm>>& vms);

// A VM's instructions for the next epoch (Scheduler::set_budget): 0 sits it out.
using Budget = std::function<uint64_t(const Vm&)>;
// Runs every VM to its end (or, with a budget, until no running VM has one) on `threads`
// workers (the same results whatever their number), calling `between` between epochs.
void run_all(const std::vector<std::unique_ptr<Vm>>& vms, unsigned threads, uint64_t slice,
             const Between& between = nullptr, const Budget& budget = nullptr);
// Runs every VM to the checkpoint (run_all): exactly `at` retired instructions (a slice's
// budget in virtual time never retires more), or right after the guest's `at_marker`-th
// marker (a marker ends the slice); a VM there sits out the epochs until all are. False,
// with the reason on stderr, if a VM ended first.
[[nodiscard]] bool run_to_checkpoint(const std::vector<std::unique_ptr<Vm>>& vms, const CheckpointOptions& c,
                                     unsigned threads, uint64_t slice, const Between& between = nullptr);
// The end of a run: a line on stderr per VM that failed or exited non-zero, then one for a
// failed save (a non-zero status even if every guest exited 0); --stats with `snapshot` and
// `dedup` (if the run shared pages).
[[nodiscard]] int end_run(const std::vector<std::unique_ptr<Vm>>& vms, const FrameStore& frames,
                          Clock::time_point start, unsigned threads, const nlohmann::ordered_json& snapshot,
                          const std::optional<std::string>& stats_path, std::span<Frozen> frozen = {},
                          const std::optional<DedupStats>& dedup = std::nullopt);

}  // namespace densevm::snapshot
