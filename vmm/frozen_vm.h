// FrozenVm: a VM frozen at its checkpoint into a template (cow-snapshots/vm_template.h) that
// the VMs going on from it — itself, or clones — fetch their pages from while it stands still,
// and, when it is saved, the thread writing it to its file.
//
//   FrozenVm frozen = freeze(std::move(vm), "vm.snap", {.compress = true});
//   std::unique_ptr<Vm> next = restore_vm(vm_image(frozen), frames, sink, {.lazy = true, .same_vm = true});
//   snapshot::Handover handover(*frozen.tmpl, frozen.save.get(), next->memory());
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "cow-snapshots/background_save.h"
#include "cow-snapshots/vm_template.h"
#include "vmm/vm.h"
#include "vmm/vm_image.h"

namespace densevm {

struct FrozenVm {
  std::shared_ptr<snapshot::VmTemplate> tmpl;
  const Vm* vm = nullptr;  // the VM inside tmpl: the VM going on continues its counters
  std::unique_ptr<snapshot::BackgroundSave> save;
};

// The pause of a checkpoint that goes on: a full save of a VM restored lazily first fetches
// every page it still owes (the file needs them, and the frozen memory must not change once
// another thread reads it); then the VM becomes a template and, with a save_path, its save
// starts. Throws std::runtime_error for a VM that stopped or a page that cannot be fetched.
[[nodiscard]] FrozenVm freeze(std::unique_ptr<Vm> vm, const std::optional<std::string>& save_path,
                              const SaveOptions& options);

// The template's config and state, the template as the source of every page.
[[nodiscard]] VmImage vm_image(const FrozenVm& frozen);

}  // namespace densevm
