// VmTemplate: a VM frozen at a slice boundary, serving its memory to the VMs restored from
// it (a PageSource): in-memory clones, or the same VM going on after a checkpoint while the
// frozen copy is written to a file on another thread. It holds the frozen VM without knowing
// it: its memory, its config and state records (what a snapshot file holds), and the object
// that owns them, kept alive (vmm/frozen_vm.h freezes a Vm).
//
// The frozen VM never runs again and nothing changes its memory, so any number of threads
// may read it at once. A fetch hands out the template's own frame, one more reference, which
// the new VM maps read-only (its first write copies it); a page the template still owed to
// the snapshot it was lazily restored from comes from that snapshot, and a page its guest
// gave up (balloon) comes back zeroed, as it would have for the template.
//
// When a single VM goes on from the template and nothing else reads it any more (its save
// has ended, no clones), hand_over() ends the sharing: each page the template still holds is
// given away on its fetch, and trim() drops the template's copy of pages the VM already
// maps, so pages the VM rewrote are not held twice and its first write to a page it took
// from the template keeps the frame instead of copying it.
//
//   auto tmpl = std::make_shared<VmTemplate>(std::shared_ptr<Vm>(std::move(vm)), memory, config, state);
//   memory_of_a_clone.set_source(tmpl);   // its pages come from the template, copy-on-write
//   std::thread saver([&] { (void)save_snapshot_file(tmpl->contents(), tmpl->memory(), "vm.snap", {}); });
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/page_source.h"
#include "cow-snapshots/snapshot_file.h"
#include "mmu/guest_memory.h"

namespace densevm::snapshot {

class VmTemplate final : public PageSource {
 public:
  // owner: what keeps `memory` alive (the frozen VM); `state`: its state record. The memory
  // must never change again.
  VmTemplate(std::shared_ptr<void> owner, GuestMemory& memory, SnapshotConfig config, std::vector<uint8_t> state);
  VmTemplate(const VmTemplate&) = delete;
  VmTemplate& operator=(const VmTemplate&) = delete;

  [[nodiscard]] Fetch fetch(Gpa page, Hpa* hpa) override;
  // The template's mapped pages, and those its own source still holds for it, ascending.
  void for_each_held_page(const std::function<void(Gpa)>& visit) const override;

  // What a snapshot file of the frozen VM holds besides its RAM, and that RAM (save only
  // reads it: a full save needs it materialized before the freeze).
  [[nodiscard]] SnapshotContents contents() const { return {config_, state_}; }
  [[nodiscard]] GuestMemory& memory() const { return memory_; }
  [[nodiscard]] const SnapshotConfig& config() const { return config_; }
  // Its state record, taken when it was frozen, and that record's XXH3-64 (the seed of the
  // clones' generation ids).
  [[nodiscard]] std::span<const uint8_t> state() const { return state_; }
  [[nodiscard]] uint64_t state_hash() const { return state_hash_; }
  // Pages handed out: frames of the template, or pages its own source fetched.
  [[nodiscard]] uint64_t fetches() const { return fetches_.load(std::memory_order_relaxed); }

  // From now on a fetch moves the template's page to the fetching VM instead of sharing it.
  // Only once a single VM, on this thread, reads the template: its save joined, no clones.
  void hand_over() { handing_over_ = true; }
  // With hand_over: gives up the pages in [begin, end) that `successor` (the VM going on)
  // maps itself (a copy it made, or the template's frame, now its alone). Returns how many.
  uint64_t trim(const GuestMemory& successor, Gpa begin, Gpa end);
  // Pages the template no longer holds: moved by fetches or trimmed.
  [[nodiscard]] uint64_t released() const { return released_; }

 private:
  std::shared_ptr<void> owner_;
  GuestMemory& memory_;
  SnapshotConfig config_;
  std::vector<uint8_t> state_;
  uint64_t state_hash_ = 0;
  std::atomic<uint64_t> fetches_{0};
  bool handing_over_ = false;
  uint64_t released_ = 0;
};

}  // namespace densevm::snapshot
