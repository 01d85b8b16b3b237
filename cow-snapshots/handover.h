// Handover: the one VM going on from a template, once the template's save has ended (no
// other thread reads it any more) and nothing else fetches from it: between slices, the
// template hands its pages over (VmTemplate::hand_over) and drops, 16 MiB of guest-physical
// space at a time, those the VM already maps, so what the VM rewrote is held twice only while
// the save runs.
//
//   Handover handover(*tmpl, save.get(), next_vm_memory);
//   ... between slices: handover.step();
#pragma once

#include <cstdint>

#include "cow-snapshots/background_save.h"
#include "cow-snapshots/vm_template.h"
#include "mmu/guest_memory.h"

namespace densevm::snapshot {

class Handover {
 public:
  // save: the template's, or nullptr if it is not saved; both must outlive the handover.
  Handover(VmTemplate& tmpl, BackgroundSave* save, const GuestMemory& successor);
  void step();

 private:
  static constexpr uint64_t kChunk = uint64_t{16} << 20;
  VmTemplate& tmpl_;
  BackgroundSave* save_;
  const GuestMemory& successor_;
  uint64_t next_ = 0;  // guest-physical address the sweep has reached
  uint64_t end_ = 0;
  bool started_ = false;
};

}  // namespace densevm::snapshot
