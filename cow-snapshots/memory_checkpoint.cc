#include "cow-snapshots/memory_checkpoint.h"

#include <algorithm>
#include <stdexcept>

namespace densevm::snapshot {
namespace {

constexpr EptPerms kReadOnly = kEptRead | kEptExec;

}  // namespace

MemoryCheckpoint::MemoryCheckpoint(GuestMemory& memory) : memory_(memory) {
  P2m& p2m = memory_.p2m();
  FrameStore& frames = p2m.frames();
  p2m.for_each_mapping([&](Gpa gpa, Hpa hpa, EptPerms) {
    frames.retain(hpa);
    frames_.emplace(gpa.page_number(), hpa);
  });
  // Read-only everywhere: with the extra reference, a guest write copies the page.
  for (const GuestMemory::Range& r : memory_.ram_ranges()) {
    (void)p2m.protect(r.begin, r.begin + r.size, kReadOnly);
  }
  attach();
}

MemoryCheckpoint::~MemoryCheckpoint() {
  detach();
  FrameStore& frames = memory_.p2m().frames();
  for (const auto& [pfn, hpa] : frames_) frames.release(hpa);
}

void MemoryCheckpoint::attach() {
  memory_.p2m().add_listener(this);
  memory_.set_populate_log(&changed_);
  attached_ = true;
}

void MemoryCheckpoint::detach() {
  if (!attached_) return;
  memory_.p2m().remove_listener(this);
  memory_.set_populate_log(nullptr);
  attached_ = false;
}

void MemoryCheckpoint::on_p2m_change(Gpa begin, Gpa end) {
  for (Gpa g = begin; g < end; g += kPageSize) changed_.push_back(g);
}

uint64_t MemoryCheckpoint::rollback() {
  detach();  // our own remapping is not a change to log
  std::sort(changed_.begin(), changed_.end());
  changed_.erase(std::unique(changed_.begin(), changed_.end()), changed_.end());
  P2m& p2m = memory_.p2m();
  FrameStore& frames = p2m.frames();
  uint64_t restored = 0;
  for (const Gpa gpa : changed_) {
    const auto it = frames_.find(gpa.page_number());
    const std::optional<P2mLeaf> now = p2m.inspect(gpa);
    if (it == frames_.end()) {
      if (now) {
        (void)p2m.unmap(gpa);  // touched after the checkpoint: untouched again
        ++restored;
      }
      continue;
    }
    if (now && now->hpa == it->second && now->perms == kReadOnly) continue;
    frames.retain(it->second);
    if (p2m.map(gpa, it->second, kReadOnly) != P2mStatus::kOk) {
      frames.release(it->second);
      throw std::runtime_error("rollback: no host frame for a page table");
    }
    ++restored;
  }
  changed_.clear();
  frames.flush_released();
  attach();
  return restored;
}

}  // namespace densevm::snapshot
