#include "cow-snapshots/memory_checkpoint.h"

#include <optional>
#include <stdexcept>

namespace densevm::snapshot {

MemoryCheckpoint::MemoryCheckpoint(GuestMemory& memory) : memory_(memory) {
  if (memory_.keeper() != nullptr) throw std::logic_error("MemoryCheckpoint: the P2M already has one");
  // A VM restored lazily still owes pages from its snapshot, and which of them the guest gave
  // up is not part of the P2M a rollback puts back: fetch them all first.
  if (memory_.materialize() != GuestMemory::Populate::kMapped) {
    throw std::runtime_error("checkpoint: the VM's snapshot pages could not all be read");
  }
  pages_ = memory_.resident_pages();
  memory_.write_protect_all();
  memory_.set_keeper(this);
}

MemoryCheckpoint::~MemoryCheckpoint() {
  memory_.set_keeper(nullptr);
  FrameStore& frames = memory_.frames();
  for (const auto& [pfn, kept] : kept_) {
    if (kept.then.holds_frame()) frames.release(kept.then.frame());
  }
  for (const Hpa spare : spares_) frames.release(spare);
}

// The first change since the checkpoint finds the page as it was then (every change before
// would have come here first): keep that frame, or note that there was none.
void MemoryCheckpoint::before_leaf_change(Gpa page, EptEntry old) {
  const auto [it, first] = kept_.try_emplace(page.page_number());
  Kept& kept = it->second;
  if (first) {
    if (old.holds_frame()) {
      memory_.frames().retain(old.frame());
      kept.then = old;
      ++kept_frames_;
    }
  } else if (kept.round == round_) {
    return;
  }
  kept.round = round_;
  changed_.emplace_back(page, kept.then);
}

std::optional<EptEntry> MemoryCheckpoint::kept(Gpa page) const {
  const auto it = kept_.find(page.page_number());
  if (it == kept_.end() || !it->second.then.holds_frame()) return std::nullopt;
  return it->second.then;
}

std::optional<Hpa> MemoryCheckpoint::take_spare_frame() {
  if (spares_.empty()) return std::nullopt;
  const Hpa spare = spares_.back();
  spares_.pop_back();
  return spare;
}

uint64_t MemoryCheckpoint::rollback() {
  FrameStore& frames = memory_.frames();
  memory_.set_keeper(nullptr);  // our own remapping is not a change to keep
  // Spares the round did not need are surplus: only this rollback's are kept.
  for (const Hpa spare : spares_) frames.release(spare);
  spares_.clear();
  // The frame leaving the P2M at page becomes a spare, unless someone else holds it too.
  auto take_back = [&](const std::optional<P2mLeaf>& now) {
    if (!now || frames.refcount(now->hpa) != 1) return;
    frames.retain(now->hpa);
    spares_.push_back(now->hpa);
  };
  uint64_t restored = 0;
  for (const auto& [page, then] : changed_) {
    const std::optional<P2mLeaf> now = memory_.mapping(page);
    if (!then.holds_frame()) {
      if (now) {
        take_back(now);
        (void)memory_.drop(page);  // first touched after the checkpoint: untouched again
        ++restored;
      }
      continue;
    }
    // Read-only: the frame stays the checkpoint's, the next write copies it again.
    const auto perms = static_cast<EptPerms>(then.perms() & kEptRx);
    if (now && now->hpa == then.frame() && now->perms == perms) continue;  // copy had failed
    if (now && now->hpa != then.frame()) take_back(now);
    frames.retain(then.frame());
    if (!memory_.put_back(page, then.frame(), perms, then.memtype())) {
      frames.release(then.frame());
      memory_.set_keeper(this);
      throw std::runtime_error("rollback: no host frame for a page table");
    }
    ++restored;
  }
  changed_.clear();
  ++round_;
  memory_.set_keeper(this);
  return restored;
}

}  // namespace densevm::snapshot
