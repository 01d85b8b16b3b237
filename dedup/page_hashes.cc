#include "dedup/page_hashes.h"

#include <algorithm>

namespace densevm {

PageHashes::PageHashes(const GuestMemory& memory)
    : ram_bytes_(memory.ram_bytes()),
      pages_(memory.ram_bytes() >> kPageShift),
      hashes_(std::make_unique_for_overwrite<uint64_t[]>(pages_)),
      known_((pages_ + 63) / 64, 0),
      written_(known_.size(), 0) {}

std::optional<uint64_t> PageHashes::known(Gpa gpa) const {
  const uint64_t i = slot(gpa);
  if (i >= pages_ || ((known_[i / 64] >> (i % 64)) & 1) == 0) return std::nullopt;
  return hashes_[i];
}

void PageHashes::remember(Gpa gpa, uint64_t hash) {
  const uint64_t i = slot(gpa);
  if (i >= pages_) return;
  hashes_[i] = hash;
  known_[i / 64] |= uint64_t{1} << (i % 64);
}

void PageHashes::written(Gpa gpa) {
  const uint64_t i = slot(gpa);
  if (i >= pages_) return;
  known_[i / 64] &= ~(uint64_t{1} << (i % 64));
  written_[i / 64] |= uint64_t{1} << (i % 64);
}

bool PageHashes::take_written(Gpa gpa) {
  const uint64_t i = slot(gpa);
  if (i >= pages_) return false;
  const uint64_t bit = uint64_t{1} << (i % 64);
  const bool was = (written_[i / 64] & bit) != 0;
  written_[i / 64] &= ~bit;
  return was;
}

void PageHashes::forget_all() {
  std::fill(known_.begin(), known_.end(), uint64_t{0});
  std::fill(written_.begin(), written_.end(), uint64_t{0});
}

}  // namespace densevm

namespace densevm {

void PageHashes::restore_written(const std::vector<uint64_t>& bits) {
  if (bits.size() != written_.size()) throw StateError("written pages are for another memory size");
  written_ = bits;
}

}  // namespace densevm
