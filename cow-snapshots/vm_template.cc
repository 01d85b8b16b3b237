#include "cow-snapshots/vm_template.h"

#include <xxhash.h>

#include <utility>

namespace densevm::snapshot {

VmTemplate::VmTemplate(std::shared_ptr<void> owner, GuestMemory& memory, SnapshotConfig config,
                       std::vector<uint8_t> state)
    : owner_(std::move(owner)),
      memory_(memory),
      config_(std::move(config)),
      state_(std::move(state)),
      state_hash_(XXH3_64bits(state_.data(), state_.size())) {}

// Called from the threads of every VM restored from the template: it only reads the frozen
// P2M (inspect has no side effects), the discard bitmap and the FrameStore's atomic counts.
PageSource::Fetch VmTemplate::fetch(Gpa page, Hpa* hpa) {
  if (const std::optional<P2mLeaf> leaf = memory_.mapping(page)) {
    memory_.frames().retain(leaf->hpa);
    *hpa = leaf->hpa;
    fetches_.fetch_add(1, std::memory_order_relaxed);
    if (handing_over_) {
      // Still mapped read-only, as before the handover (the VM's counters do not depend on
      // when the save ended): its first write finds the frame its alone and keeps it.
      (void)memory_.drop(page);
      ++released_;
    }
    return Fetch::kShared;
  }
  // Owed by the snapshot the template was lazily restored from, unless its guest gave it up.
  PageSource* below = memory_.source();
  if (below == nullptr || memory_.discarded_from_source(page)) return Fetch::kAbsent;
  const Fetch f = below->fetch(page, hpa);
  if (f == Fetch::kShared || f == Fetch::kPrivate) fetches_.fetch_add(1, std::memory_order_relaxed);
  return f;
}

void VmTemplate::for_each_held_page(const std::function<void(Gpa)>& visit) const {
  std::vector<Gpa> owed;  // held below, neither mapped here nor given up: ascending
  if (const PageSource* below = memory_.source()) {
    below->for_each_held_page([&](Gpa page) {
      if (!memory_.discarded_from_source(page) && !memory_.mapping(page)) owed.push_back(page);
    });
  }
  auto next = owed.begin();
  memory_.for_each_mapping([&](Gpa gpa, Hpa, EptPerms) {
    for (; next != owed.end() && *next < gpa; ++next) visit(*next);
    visit(gpa);
  });
  for (; next != owed.end(); ++next) visit(*next);
}

uint64_t VmTemplate::trim(const GuestMemory& successor, Gpa begin, Gpa end) {
  if (!handing_over_) return 0;
  std::vector<Gpa> taken;
  memory_.for_each_mapping(begin, end, [&](Gpa gpa, Hpa, EptPerms) {
    if (successor.mapping(gpa)) taken.push_back(gpa);
  });
  for (const Gpa gpa : taken) (void)memory_.drop(gpa);
  released_ += taken.size();
  return taken.size();
}

}  // namespace densevm::snapshot
