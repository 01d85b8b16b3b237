// MemoryCheckpoint: a VM's guest memory frozen copy-on-write in host memory, for rollback.
//
// Taking it keeps a reference on every mapped frame and maps them all read-only, so the
// guest's next write to a page copies it (GuestMemory::break_cow) and the checkpoint's frame
// stays as it was. Every page that changes afterwards is logged (P2M changes through the
// listener, first touches through GuestMemory's populate log), so a rollback puts back only
// those pages: its cost follows what the guest touched, not its size (as snapshot fuzzers
// like Nyx do). Taking the checkpoint itself still visits every mapped page once.
//
//   MemoryCheckpoint cp(vm.memory());
//   vm.run_slice(1'000'000);
//   uint64_t restored = cp.rollback();   // the guest's RAM is as it was at `cp`
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "ept/p2m.h"
#include "vmm/guest_memory.h"

namespace densevm::snapshot {

class MemoryCheckpoint final : public P2mListener {
 public:
  explicit MemoryCheckpoint(GuestMemory& memory);
  ~MemoryCheckpoint() override;
  MemoryCheckpoint(const MemoryCheckpoint&) = delete;
  MemoryCheckpoint& operator=(const MemoryCheckpoint&) = delete;

  // Puts back every page changed since the checkpoint (or since the last rollback) and
  // returns how many. Throws std::runtime_error if the host has no frame for a page table.
  uint64_t rollback();

  [[nodiscard]] uint64_t pages() const { return frames_.size(); }

  void on_p2m_change(Gpa begin, Gpa end) override;

 private:
  void attach();
  void detach();

  GuestMemory& memory_;
  std::unordered_map<uint64_t, Hpa> frames_;  // guest page number -> checkpoint frame
  std::vector<Gpa> changed_;                  // may repeat; rollback de-duplicates
  bool attached_ = false;
};

}  // namespace densevm::snapshot
