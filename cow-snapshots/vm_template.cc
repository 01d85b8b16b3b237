#include "cow-snapshots/vm_template.h"

#include <xxhash.h>

#include <stdexcept>

#include "vmm/snapshot_state.h"

namespace densevm::snapshot {

VmTemplate::VmTemplate(std::unique_ptr<Vm> vm) : vm_(std::move(vm)) {
  if (!vm_ || vm_->state() != Vm::State::kRunning) {
    throw std::invalid_argument("a VM that has stopped cannot become a template");
  }
  StateWriter w;
  vm_->save(w);
  state_ = std::move(w.bytes());
  state_hash_ = XXH3_64bits(state_.data(), state_.size());
}

// Called from the threads of every VM restored from the template: it only reads the frozen
// P2M (inspect has no side effects), the discard bitmap and the FrameStore's atomic counts.
PageSource::Fetch VmTemplate::fetch(Gpa page, Hpa* hpa) {
  GuestMemory& memory = vm_->memory();
  if (const std::optional<P2mLeaf> leaf = memory.p2m().inspect(page)) {
    memory.frames().retain(leaf->hpa);
    *hpa = leaf->hpa;
    fetches_.fetch_add(1, std::memory_order_relaxed);
    if (handing_over_) {
      // Still mapped read-only, as before the handover (the VM's counters do not depend on
      // when the save ended): its first write finds the frame its alone and keeps it.
      (void)memory.p2m().unmap(page);
      ++released_;
    }
    return Fetch::kShared;
  }
  // Owed by the snapshot the template was lazily restored from, unless its guest gave it up.
  PageSource* below = memory.source();
  if (below == nullptr || memory.discarded_from_source(page)) return Fetch::kAbsent;
  const Fetch f = below->fetch(page, hpa);
  if (f == Fetch::kShared || f == Fetch::kPrivate) fetches_.fetch_add(1, std::memory_order_relaxed);
  return f;
}

void VmTemplate::for_each_held_page(const std::function<void(Gpa)>& visit) const {
  GuestMemory& memory = vm_->memory();
  std::vector<Gpa> owed;  // held below, neither mapped here nor given up: ascending
  if (const PageSource* below = memory.source()) {
    below->for_each_held_page([&](Gpa page) {
      if (!memory.discarded_from_source(page) && !memory.p2m().inspect(page)) owed.push_back(page);
    });
  }
  auto next = owed.begin();
  memory.p2m().for_each_mapping([&](Gpa gpa, Hpa, EptPerms) {
    for (; next != owed.end() && *next < gpa; ++next) visit(*next);
    visit(gpa);
  });
  for (; next != owed.end(); ++next) visit(*next);
}

uint64_t VmTemplate::trim(const GuestMemory& successor, Gpa begin, Gpa end) {
  if (!handing_over_) return 0;
  std::vector<Gpa> taken;
  vm_->memory().p2m().for_each_mapping(begin, end, [&](Gpa gpa, Hpa, EptPerms) {
    if (successor.p2m().inspect(gpa)) taken.push_back(gpa);
  });
  for (const Gpa gpa : taken) (void)vm_->memory().p2m().unmap(gpa);
  released_ += taken.size();
  return taken.size();
}

VmImage vm_image(const std::shared_ptr<VmTemplate>& frozen) {
  return {frozen->config(), frozen->state(), frozen, frozen->state_hash(), &frozen->vm(), kStateVersion};
}

}  // namespace densevm::snapshot
