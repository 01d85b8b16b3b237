#include "vmm/frozen_vm.h"

#include <stdexcept>
#include <utility>

namespace densevm {

FrozenVm freeze(std::unique_ptr<Vm> vm, const std::optional<std::string>& save_path, const SaveOptions& options) {
  if (vm->state() != Vm::State::kRunning) throw std::invalid_argument("a VM that has stopped cannot become a template");
  if (save_path && options.parent == nullptr && vm->memory().materialize() != GuestMemory::Populate::kMapped) {
    throw std::runtime_error("cannot save: the VM's snapshot pages could not all be read");
  }
  VmRecords records = records_of(*vm);
  FrozenVm frozen;
  frozen.vm = vm.get();
  GuestMemory& memory = vm->memory();
  frozen.tmpl = std::make_shared<snapshot::VmTemplate>(std::shared_ptr<Vm>(std::move(vm)), memory,
                                                       std::move(records.config), std::move(records.state));
  if (save_path) frozen.save = std::make_unique<snapshot::BackgroundSave>(frozen.tmpl, *save_path, options);
  return frozen;
}

VmImage vm_image(const FrozenVm& frozen) {
  const snapshot::VmTemplate& t = *frozen.tmpl;
  return {t.config(), t.state(), VmState::kVersion, frozen.tmpl, t.state_hash(), frozen.vm};
}

}  // namespace densevm
