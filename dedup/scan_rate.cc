#include "dedup/scan_rate.h"

#include <algorithm>

namespace densevm {

uint64_t ScanRate::earn(uint64_t virtual_instructions) {
  if (unlimited()) return kUnlimitedBudget;
  // 128 bits: a fast rate times a long epoch overflows 64.
  const unsigned __int128 total =
      static_cast<unsigned __int128>(pages_per_second_) * virtual_instructions + carry_;
  carry_ = static_cast<uint64_t>(total % kVirtualHz);
  const unsigned __int128 pages = total / kVirtualHz;
  return pages > kUnlimitedBudget - 1 ? kUnlimitedBudget - 1 : static_cast<uint64_t>(pages);
}

uint64_t ScanRate::cap(uint64_t virtual_instructions, uint64_t mapped_pages, uint64_t vms, unsigned backoff) {
  if (vms == 0) return 0;
  const unsigned __int128 per =
      static_cast<unsigned __int128>(vms) * (kMinPassInstructions << std::min(backoff, kMaxBackoff));
  const unsigned __int128 pages = (static_cast<unsigned __int128>(mapped_pages) * virtual_instructions + per - 1) / per;
  return pages > kUnlimitedBudget - 1 ? kUnlimitedBudget - 1 : static_cast<uint64_t>(pages);
}

}  // namespace densevm
