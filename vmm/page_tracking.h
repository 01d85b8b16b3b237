// PageTracking: which guest-physical pages are write-tracked, and why.
//
// A write-tracked page is never writable through the soft TLB, so every guest write to it
// takes the vCPU's slow path, is performed, and is then reported: cached decoded code is
// dropped, shadowed page tables are resynced. The Mmu consults this when it fills a
// translation; owners set and clear their own reason bits.
//
//   PageTracking t(ram_pages);
//   t.set(Gpa{0x5000}, PageTracking::kCode);
//   bool slow = t.tracked(Gpa{0x5123});
#pragma once

#include <cstdint>
#include <vector>

#include "vmm/types.h"

namespace densevm {

class PageTracking {
 public:
  static constexpr uint8_t kCode = 1;       // decoded instructions are cached for the page
  static constexpr uint8_t kPageTable = 2;  // a shadow table was built from the page

  explicit PageTracking(uint64_t pages) : bits_(pages, 0) {}

  [[nodiscard]] uint8_t reasons(Gpa gpa) const {
    const uint64_t pfn = gpa.page_number();
    return pfn < bits_.size() ? bits_[pfn] : 0;
  }
  [[nodiscard]] bool tracked(Gpa gpa) const { return reasons(gpa) != 0; }
  void set(Gpa gpa, uint8_t reason) {
    const uint64_t pfn = gpa.page_number();
    if (pfn < bits_.size()) bits_[pfn] |= reason;
  }
  void clear(Gpa gpa, uint8_t reason) {
    const uint64_t pfn = gpa.page_number();
    if (pfn < bits_.size()) bits_[pfn] &= static_cast<uint8_t>(~reason);
  }

 private:
  std::vector<uint8_t> bits_;
};

}  // namespace densevm
