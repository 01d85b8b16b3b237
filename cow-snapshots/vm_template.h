// VmTemplate: a VM frozen at a slice boundary, serving its memory to the VMs restored from
// it (a PageSource): in-memory clones, or the same VM going on after a checkpoint while the
// frozen copy is written to a file on another thread.
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
//   auto frozen = std::make_shared<VmTemplate>(std::move(vm));
//   std::unique_ptr<Vm> clone = restore_vm(vm_image(frozen), frames, sink, {.lazy = true, .clone = 1});
//   std::thread saver([&] { (void)save_vm_file(frozen->vm(), "vm.snap", {}); });
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/page_source.h"
#include "cow-snapshots/vm_snapshot.h"
#include "vmm/vm.h"

namespace densevm::snapshot {

class VmTemplate final : public PageSource {
 public:
  // vm: between slices and still running; it is saved (Vm::save) now. Throws
  // std::invalid_argument for a VM that has stopped.
  explicit VmTemplate(std::unique_ptr<Vm> vm);
  VmTemplate(const VmTemplate&) = delete;
  VmTemplate& operator=(const VmTemplate&) = delete;

  [[nodiscard]] Fetch fetch(Gpa page, Hpa* hpa) override;
  // The template's mapped pages, and those its own source still holds for it, ascending.
  void for_each_held_page(const std::function<void(Gpa)>& visit) const override;

  // The frozen VM, for encode_vm / save_vm_file (which only read a VM with no source left,
  // or any VM for a diff). Never run it, nor change its memory.
  [[nodiscard]] Vm& vm() { return *vm_; }
  [[nodiscard]] const VmConfig& config() const { return vm_->config(); }
  // Its Vm::save record, taken when it was frozen, and that record's XXH3-64 (the seed of
  // the clones' generation ids).
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
  std::unique_ptr<Vm> vm_;
  std::vector<uint8_t> state_;
  uint64_t state_hash_ = 0;
  std::atomic<uint64_t> fetches_{0};
  bool handing_over_ = false;
  uint64_t released_ = 0;
};

// What restore_vm builds a VM from: the template's config and state, the template as the
// source of every page.
[[nodiscard]] VmImage vm_image(const std::shared_ptr<VmTemplate>& frozen);

}  // namespace densevm::snapshot
