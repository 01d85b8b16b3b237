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
#include <span>

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

// One stderr line per VM that failed or exited non-zero; the first such status (1 for a
// VM the VMM stopped), or 0.
[[nodiscard]] int report_endings(std::span<const Vm* const> vms);

}  // namespace densevm
