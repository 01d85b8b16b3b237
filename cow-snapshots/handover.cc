#include "cow-snapshots/handover.h"

#include <algorithm>

namespace densevm::snapshot {

Handover::Handover(VmTemplate& tmpl, BackgroundSave* save, const GuestMemory& successor)
    : tmpl_(tmpl), save_(save), successor_(successor) {
  for (const GuestMemory::Range& r : successor.ram_ranges()) end_ = std::max(end_, r.begin.value() + r.size);
}

void Handover::step() {
  if (!started_) {
    if (save_ != nullptr && !save_->done()) return;
    if (save_ != nullptr) (void)save_->finish();  // joins: the thread's reads are over
    tmpl_.hand_over();
    started_ = true;
  }
  if (next_ >= end_) return;
  (void)tmpl_.trim(successor_, Gpa{next_}, Gpa{std::min(next_ + kChunk, end_)});
  next_ += kChunk;
}

}  // namespace densevm::snapshot
