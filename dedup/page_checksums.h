// PageChecksums: the fingerprint each guest RAM page had when the scanner last saw it.
//
// KSM's unstable-page rule: a page whose content changed since the previous pass is being
// written and would only be copied back on its next write, so it is not merged yet. 32 bits
// of the fingerprint are enough to notice change (a miss only delays a merge by a pass)
// and cost 1/1024 of the RAM they describe.
//
//   PageChecksums sums(memory);
//   bool stable = sums.update(gpa, hash);  // true if the page still has last pass's hash
#pragma once

#include <cstdint>
#include <vector>

#include "core/persist.h"
#include "core/types.h"
#include "mmu/guest_memory.h"

namespace densevm {

class PageChecksums {
 public:
  explicit PageChecksums(const GuestMemory& memory);

  // Records gpa's fingerprint; true if it equals the one recorded before. gpa must be RAM.
  [[nodiscard]] bool update(Gpa gpa, uint64_t hash);

  // Every page's fingerprint (core/persist.h); restore throws StateError for another size.
  [[nodiscard]] std::vector<uint32_t> save() const { return sums_; }
  void restore(const std::vector<uint32_t>& sums);

 private:
  [[nodiscard]] uint64_t slot(Gpa gpa) const;

  const GuestMemory& memory_;
  std::vector<uint32_t> sums_;  // per RAM page, ranges concatenated; 0 = never seen
};

}  // namespace densevm
