#include "dedup/page_checksums.h"

namespace densevm {
namespace {

constexpr uint32_t kNever = 0;  // what sums_ starts as
constexpr uint32_t kWritten = 1;

// The two marks are no fingerprint: a fingerprint folding to one is stored as 2 (such a
// page may be merged a pass later than it could).
uint32_t fold(uint64_t hash) {
  const auto folded = static_cast<uint32_t>(hash ^ (hash >> 32));
  return folded <= kWritten ? 2 : folded;
}

}  // namespace

PageChecksums::PageChecksums(const GuestMemory& memory)
    : memory_(memory), sums_(memory.ram_bytes() >> kPageShift, kNever) {}

bool PageChecksums::update(Gpa gpa, uint64_t hash) {
  const uint64_t i = slot(gpa);
  if (i >= sums_.size()) return false;
  const uint32_t now = fold(hash);
  const bool same = sums_[i] == now || sums_[i] == kWritten;
  sums_[i] = now;
  return same;
}

void PageChecksums::note_written(Gpa gpa) {
  const uint64_t i = slot(gpa);
  if (i < sums_.size()) sums_[i] = kWritten;
}

void PageChecksums::restore(const std::vector<uint32_t>& sums) {
  if (sums.size() != sums_.size()) throw StateError("page fingerprints are for another memory size");
  sums_ = sums;
}

uint64_t PageChecksums::slot(Gpa gpa) const {
  uint64_t before = 0;  // RAM pages in the ranges below gpa's
  for (const GuestMemory::Range& r : memory_.ram_ranges()) {
    if (gpa >= r.begin && gpa - r.begin < r.size) return before + ((gpa - r.begin) >> kPageShift);
    before += r.size >> kPageShift;
  }
  return sums_.size();
}

}  // namespace densevm
