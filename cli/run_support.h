// Pieces every command that runs VMs shares (`run`, `run --checkpoint-at`, `restore`): the
// guest kernel, how much address space the FrameStore reserves, the consoles, the VMs a run
// boots, and how the guests' endings become the process's exit status.
//
//   FrameStore frames(frame_store_capacity(mem_bytes * vms));
//   ConsoleLines console(vms > 1, o.loop);
//   std::vector<std::unique_ptr<Vm>> fleet = boot_vms(o, frames, load_guest(o, builtin), console.sink(), loop.numa());
//   ... run ...
//   return report_endings(fleet);   // 0, or the first non-zero guest status (1: stopped)
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "cli/options.h"
#include "core/frame_store.h"
#include "vmm/guest_image.h"
#include "vmm/host_services.h"
#include "vmm/vm.h"

namespace densevm::cli {

// Console lines from the guests, one at a time, prefixed "[vmK] " when there are several;
// on stdout, or on stderr when the stats document goes to stdout (`--stats -`), so that
// stdout is the JSON alone.
class ConsoleLines {
 public:
  ConsoleLines(bool prefix, const LoopOptions& loop)
      : out_(loop.stats_path == "-" ? stderr : stdout), prefix_(prefix) {}
  void line(int vm, std::string_view text);
  // What a Vm writes its lines to; this object must outlive the VMs.
  [[nodiscard]] Vm::ConsoleSink sink() {
    return [this](int vm, std::string_view text) { line(vm, text); };
  }

 private:
  std::mutex mu_;
  std::FILE* out_;
  bool prefix_;
};

// What a run boots: --kernel and --initrd (a Linux guest), the ELF guest given, or the
// built-in guest kernel. Throws std::runtime_error with one line for a bad file.
[[nodiscard]] GuestImage load_guest(const RunOptions& o, std::span<const uint8_t> builtin);

// Address space (not memory: MAP_NORESERVE) for `ram_bytes` of guest RAM plus its tables.
[[nodiscard]] uint64_t frame_store_capacity(uint64_t ram_bytes);

// How a VM's vCPU runs guest code under --cpu and --share-translations.
[[nodiscard]] CpuConfig cpu_config(const LoopOptions& o);

// --huge-frames for a VM that shares pages (dedup, clones) or balloons, or does neither.
[[nodiscard]] bool huge_frames(HugeFrames setting, bool shares_or_balloons);

// The VMs of a run: --vms of them, vm0..vmN-1, booted from `image` with the run's memory
// size, MMU, CPU mode and command line (plus " vm=K").
// Each VM is homed by `numa` (its --vm-numa node first, when given).
[[nodiscard]] std::vector<std::unique_ptr<Vm>> boot_vms(const RunOptions& o, FrameStore& frames,
                                                        const GuestImage& image, const Vm::ConsoleSink& sink,
                                                        NumaPlacement& numa);

// The host services as the flags configure them (per-node budgets placed by `numa`): a run's,
// or restored VMs' (page sharing and budgets; no --balloon-target).
[[nodiscard]] HostServicesConfig services_config(const RunOptions& o, const NumaPlacement& numa);
[[nodiscard]] HostServicesConfig services_config(const SharingOptions& sharing, const BudgetOptions& budget,
                                                 const NumaPlacement& numa);

// One stderr line per VM that failed or exited non-zero; the first such status (1 for a
// VM the VMM stopped), or 0.
[[nodiscard]] int report_endings(const std::vector<std::unique_ptr<Vm>>& vms);

}  // namespace densevm::cli
