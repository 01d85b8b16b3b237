// PageChecksums: the fingerprint each guest RAM page had when the scanner last saw it.
//
// KSM's unstable-page rule: a page whose content changed since the previous pass is being
// written and would only be copied back on its next write, so it is not merged yet. The
// scanner knows writes from the EPT D bits; a page visited written is recorded as such
// without a fingerprint (hashing it would be wasted: it is volatile anyway), and at its next
// visit, not written since, it is stable. 32 bits of the fingerprint are enough to notice
// change otherwise and cost 1/1024 of the RAM they describe.
//
//   PageChecksums sums(memory);
//   if (written) sums.note_written(gpa);
//   else bool stable = sums.update(gpa, hash);  // seen before, unchanged since
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

  // Records gpa's fingerprint; true if it equals the one recorded before, or if the last
  // record was note_written (the caller saw no write since). gpa must be RAM.
  [[nodiscard]] bool update(Gpa gpa, uint64_t hash);
  // Records that the page was visited written: seen, its fingerprint unknown.
  void note_written(Gpa gpa);

  // Every page's fingerprint (core/persist.h); restore throws StateError for another size.
  [[nodiscard]] std::vector<uint32_t> save() const { return sums_; }
  void restore(const std::vector<uint32_t>& sums);

 private:
  [[nodiscard]] uint64_t slot(Gpa gpa) const;

  const GuestMemory& memory_;
  std::vector<uint32_t> sums_;  // per RAM page, ranges concatenated; kNever, kWritten or a fingerprint
};

}  // namespace densevm
