#include "cow-snapshots/frozen_vm.h"

#include <algorithm>
#include <stdexcept>

namespace densevm::snapshot {

Frozen freeze(std::unique_ptr<Vm> vm, const std::optional<std::string>& save_path, const SaveOptions& options) {
  if (save_path && options.parent == nullptr && vm->memory().materialize() != GuestMemory::Populate::kMapped) {
    throw std::runtime_error("cannot save: the VM's snapshot pages could not all be read");
  }
  Frozen frozen{std::make_shared<VmTemplate>(std::move(vm)), nullptr};
  if (save_path) frozen.save = std::make_unique<BackgroundSave>(frozen.tmpl, *save_path, options);
  return frozen;
}

Handover::Handover(Frozen& frozen, const GuestMemory& successor) : frozen_(frozen), successor_(successor) {
  for (const GuestMemory::Range& r : successor.ram_ranges()) end_ = std::max(end_, r.begin.value() + r.size);
}

void Handover::step() {
  if (!started_) {
    if (frozen_.save && !frozen_.save->done()) return;
    if (frozen_.save) (void)frozen_.save->finish();  // joins: the thread's reads are over
    frozen_.tmpl->hand_over();
    started_ = true;
  }
  if (next_ >= end_) return;
  (void)frozen_.tmpl->trim(successor_, Gpa{next_}, Gpa{std::min(next_ + kChunk, end_)});
  next_ += kChunk;
}

}  // namespace densevm::snapshot
