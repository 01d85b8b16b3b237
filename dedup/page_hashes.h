// PageHashes: each guest RAM page's full fingerprint as the dedup scanner last computed it,
// kept for as long as the page's bytes cannot have changed, so that a page not written
// since is not hashed again; and whether it was written since the scanner's last visit.
//
// What may have changed is what GuestMemory's EPT D bits say (a guest store, a host-side
// write, a new frame): the scanner harvests them for each window it visits and marks those
// pages written first. The fingerprints are host-only, never in a checkpoint: after a
// restore they are forgotten and hashed anew, to the same values; which pages are written
// is the scanner's state (it decides what merges). 8 bytes per 4 KiB page hashed, 2 bits
// per page of RAM.
//
//   PageHashes hashes(memory);
//   memory.harvest_written(begin, end, [&](Gpa gpa) { hashes.written(gpa); });
//   bool written = hashes.take_written(gpa);
//   std::optional<uint64_t> h = hashes.known(gpa);   // nullopt: hash it, then remember()
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/persist.h"
#include "core/types.h"
#include "mmu/guest_memory.h"

namespace densevm {

class PageHashes {
 public:
  explicit PageHashes(const GuestMemory& memory);

  // The fingerprint remembered for gpa, or nullopt if none (never hashed, or forgotten).
  [[nodiscard]] std::optional<uint64_t> known(Gpa gpa) const;
  // gpa must be RAM (anything else is ignored).
  void remember(Gpa gpa, uint64_t hash);
  // The page's bytes may have changed: its fingerprint is forgotten, and it counts as
  // written until take_written.
  void written(Gpa gpa);
  // Whether written() was called since the last take_written; clears that.
  [[nodiscard]] bool take_written(Gpa gpa);
  void forget_all();
  // Which pages are written (bit per RAM page, GuestMemory::ram_page_index), for a
  // checkpoint; restore_written throws StateError for another memory size.
  [[nodiscard]] const std::vector<uint64_t>& written_bits() const { return written_; }
  void restore_written(const std::vector<uint64_t>& bits);

 private:
  [[nodiscard]] uint64_t slot(Gpa gpa) const { return GuestMemory::ram_page_index(ram_bytes_, gpa); }

  uint64_t ram_bytes_;
  uint64_t pages_;
  // Per RAM page (GuestMemory::ram_page_index), read only where known_ says so: left
  // uninitialised, so that the host backs only the parts of it that pages were hashed into.
  std::unique_ptr<uint64_t[]> hashes_;
  std::vector<uint64_t> known_;    // bit per RAM page: hashes_ holds its bytes' fingerprint
  std::vector<uint64_t> written_;  // bit per RAM page: written since the last take_written
};

}  // namespace densevm
