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

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/types.h"

namespace densevm {

class PageTracking {
 public:
  static constexpr uint8_t kCode = 1;       // decoded instructions are cached for the page
  static constexpr uint8_t kPageTable = 2;  // a shadow table was built from the page

  // Tracks pages [0, pages). Storage is allocated per 16 MiB chunk on first use, so a large,
  // mostly untracked guest costs almost nothing.
  explicit PageTracking(uint64_t pages) : chunks_((pages + kChunkPages - 1) / kChunkPages) {}

  [[nodiscard]] uint8_t reasons(Gpa gpa) const {
    const uint64_t pfn = gpa.page_number();
    const uint64_t c = pfn / kChunkPages;
    if (c >= chunks_.size() || !chunks_[c]) return 0;
    return (*chunks_[c])[pfn % kChunkPages];
  }
  [[nodiscard]] bool tracked(Gpa gpa) const { return reasons(gpa) != 0; }
  void set(Gpa gpa, uint8_t reason) {
    const uint64_t pfn = gpa.page_number();
    const uint64_t c = pfn / kChunkPages;
    if (c >= chunks_.size()) return;
    if (!chunks_[c]) chunks_[c] = std::make_unique<Chunk>();
    (*chunks_[c])[pfn % kChunkPages] |= reason;
  }
  void clear(Gpa gpa, uint8_t reason) {
    const uint64_t pfn = gpa.page_number();
    const uint64_t c = pfn / kChunkPages;
    if (c >= chunks_.size() || !chunks_[c]) return;
    (*chunks_[c])[pfn % kChunkPages] &= static_cast<uint8_t>(~reason);
  }

 private:
  static constexpr uint64_t kChunkPages = 4096;
  using Chunk = std::array<uint8_t, kChunkPages>;
  std::vector<std::unique_ptr<Chunk>> chunks_;
};

}  // namespace densevm
