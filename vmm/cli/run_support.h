// Pieces every command that runs VMs shares (`run`, `run --checkpoint-at`, `restore`): how
// much address space the FrameStore reserves, and how the guests' endings become the
// process's exit status.
//
//   FrameStore frames(frame_store_capacity(mem_bytes * vms));
//   ... run ...
//   return report_endings(vms);   // 0, or the first non-zero guest status (1: stopped)
#pragma once

#include <mutex>
#include <string_view>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "vmm/cli/options.h"
#include "vmm/elf_loader.h"
#include "vmm/frame_store.h"
#include "vmm/guest_image.h"
#include "vmm/vm.h"

namespace densevm {

// Console lines from the guests, one at a time, prefixed "[vmK] " when there are several.
class ConsoleLines {
 public:
  explicit ConsoleLines(bool prefix) : prefix_(prefix) {}
  void line(int vm, std::string_view text);

 private:
  std::mutex mu_;
  bool prefix_;
};

// Address space (not memory: MAP_NORESERVE) for `ram_bytes` of guest RAM plus its tables.
[[nodiscard]] uint64_t frame_store_capacity(uint64_t ram_bytes);

// What the run boots: --kernel and --initrd (a Linux guest), the ELF guest given, or the
// built-in guest kernel. Throws std::runtime_error with one line for a bad file.
[[nodiscard]] GuestImage load_guest_image(const RunOptions& o, std::span<const uint8_t> builtin);

// The VMs of a run: --vms of them, vm0..vmN-1, booted from `image` with the run's memory
// size, MMU and command line (plus " vm=K").
[[nodiscard]] std::vector<std::unique_ptr<Vm>> boot_vms(const RunOptions& o, FrameStore& frames,
                                                        const GuestImage& image, const Vm::ConsoleSink& sink);

// Scheduler workers for --threads N: N, or one per host CPU when not given (0).
[[nodiscard]] unsigned worker_threads(unsigned requested);

// One stderr line per VM that failed or exited non-zero; the first such status (1 for a
// VM the VMM stopped), or 0.
[[nodiscard]] int report_endings(std::span<const Vm* const> vms);

}  // namespace densevm
