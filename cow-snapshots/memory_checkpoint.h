// MemoryCheckpoint: a VM's guest memory frozen copy-on-write in host memory, for rollback.
//
// Taking it costs a few EPT entry writes whatever the guest's size: the top-level (512 GiB)
// entries over guest RAM are restricted to read+execute and no page is visited. From then on
// the checkpoint is the P2M's keeper (P2mKeeper) and keeps each page's frame lazily, at the
// page's first change: a guest write faults, GuestMemory::break_cow pushes the restriction
// down to the faulting leaf (its 512 neighbours at each level inherit it, so they stay
// protected) and, because the checkpoint retains the frame just before, copies the page; a
// frame unmapped or replaced (balloon inflation, free page reporting) is kept the same way;
// a page given its first frame after the checkpoint is noted, to be unmapped. A rollback puts
// back only those pages (the kept frame, mapped read-only, or nothing), so it costs what the
// guest touched, not its size, as snapshot fuzzers like Nyx do. Afterwards no page is
// writable again (restored pages are read-only leaves, untouched ones are still under a
// restriction), so the checkpoint is armed for the next round without another pass. The
// frames a rollback takes out of the P2M (private copies, pages first touched) are not
// freed but kept as spares for the next round's copies and first touches
// (P2mKeeper::take_spare_frame): a loop neither gives memory back nor faults it in again.
//
//   MemoryCheckpoint cp(vm.memory());
//   vm.run_slice(1'000'000);
//   uint64_t restored = cp.rollback();   // the guest's RAM is as it was at `cp`
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ept/p2m.h"
#include "mmu/guest_memory.h"

namespace densevm::snapshot {

class MemoryCheckpoint final : public P2mKeeper {
 public:
  // Throws std::logic_error if the P2M already has a keeper (one checkpoint at a time).
  explicit MemoryCheckpoint(GuestMemory& memory);
  // Gives back the frames it kept. Restrictions stay where they are: later writes make the
  // pages writable one by one (break_cow on frames the P2M alone holds).
  ~MemoryCheckpoint() override;
  MemoryCheckpoint(const MemoryCheckpoint&) = delete;
  MemoryCheckpoint& operator=(const MemoryCheckpoint&) = delete;

  // Puts back every page changed since the checkpoint (or since the last rollback) and
  // returns how many. Throws std::runtime_error if the host has no frame for a page table
  // (guest RAM is then partly rolled back: the VM must not run on).
  uint64_t rollback();

  // Guest pages mapped when the checkpoint was taken.
  [[nodiscard]] uint64_t pages() const { return pages_; }
  // Frames it holds: pages mapped at the checkpoint and changed since.
  [[nodiscard]] uint64_t kept_frames() const { return kept_frames_; }
  // Frames the last rollback took out of the P2M, not reused yet.
  [[nodiscard]] uint64_t spare_frames() const { return spares_.size(); }
  // Pages changed since the checkpoint or the last rollback.
  [[nodiscard]] uint64_t changed_pages() const { return changed_.size(); }

  void before_leaf_change(Gpa page, EptEntry old) override;
  [[nodiscard]] std::optional<EptEntry> kept(Gpa page) const override;
  [[nodiscard]] std::optional<Hpa> take_spare_frame() override;

 private:
  struct Kept {
    EptEntry then;       // the leaf at the checkpoint; no frame: nothing was mapped
    uint64_t round = 0;  // the last round (rollback interval) the page changed in
  };

  GuestMemory& memory_;
  uint64_t pages_ = 0;
  uint64_t kept_frames_ = 0;
  uint64_t round_ = 1;
  std::unordered_map<uint64_t, Kept> kept_;        // guest page number -> as at the checkpoint
  std::vector<std::pair<Gpa, EptEntry>> changed_;  // this round, each page once
  std::vector<Hpa> spares_;                        // one reference each
};

}  // namespace densevm::snapshot
