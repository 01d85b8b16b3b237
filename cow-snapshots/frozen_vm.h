// A VM frozen at its checkpoint: the template the VMs going on from it (itself, or clones)
// fetch their pages from, and, when it is saved, the thread writing it to its file. Once the
// save has ended, a Handover gives the template's pages to the one VM going on from it.
//
//   Frozen frozen = freeze(std::move(vm), "vm.snap", {.compress = true});
//   std::unique_ptr<Vm> next = restore_vm(vm_image(frozen.tmpl), frames, sink, {.lazy = true, .same_vm = true});
//   Handover handover(frozen, next->memory());
//   ... between slices: handover.step();
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "cow-snapshots/background_save.h"
#include "cow-snapshots/vm_snapshot.h"
#include "cow-snapshots/vm_template.h"
#include "mmu/guest_memory.h"
#include "vmm/vm.h"

namespace densevm::snapshot {

// A VM frozen at its checkpoint and, if it is saved, the thread writing it.
struct Frozen {
  std::shared_ptr<VmTemplate> tmpl;
  std::unique_ptr<BackgroundSave> save;
};

// The pause of a checkpoint that goes on: a full save of a VM restored lazily first fetches
// every page it still owes (the file needs them, and the frozen memory must not change once
// another thread reads it); then the VM becomes a template and, with a save_path, its save
// starts. Throws std::runtime_error if a page cannot be fetched.
[[nodiscard]] Frozen freeze(std::unique_ptr<Vm> vm, const std::optional<std::string>& save_path,
                            const SaveOptions& options);

// The VM going on alone from its template, once the template's save has ended (a thread no
// longer reads it): between slices, the template hands its pages over (VmTemplate::hand_over)
// and drops, 16 MiB of guest-physical space at a time, those the VM already maps.
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

}  // namespace densevm::snapshot
