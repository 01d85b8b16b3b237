// The PVH boot ABI as the VMM's loader writes it: Xen's hvm_start_info (version 1, the one
// that carries a memory map) and its memory map entries, laid out as Xen's
// public/arch-x86/hvm/start_info.h defines them. The guest kernel reads the same layout with a
// definition of its own (guest-tools/include/pvh_start_info.h): the VMM implements the ABI,
// it does not borrow a guest's headers (QEMU's PVH loader boots that guest too).
//
//   PvhStartInfo si{.magic = kPvhStartMagic, .version = 1};
//   si.memmap_paddr = map_gpa; si.memmap_entries = 2;
#pragma once

#include <cstddef>
#include <cstdint>

namespace densevm {

inline constexpr uint32_t kPvhStartMagic = 0x336ec578;  // XEN_HVM_START_MAGIC_VALUE

// E820 numbering.
enum class PvhMemoryType : uint32_t { kRam = 1, kReserved = 2, kAcpi = 3, kNvs = 4, kUnusable = 5 };

struct PvhStartInfo {
  uint32_t magic = 0;
  uint32_t version = 0;  // 1: memmap_* are valid
  uint32_t flags = 0;
  uint32_t nr_modules = 0;
  uint64_t modlist_paddr = 0;
  uint64_t cmdline_paddr = 0;  // NUL-terminated, 0 if none
  uint64_t rsdp_paddr = 0;     // ACPI RSDP, 0 if none
  uint64_t memmap_paddr = 0;   // PvhMemoryMapEntry[memmap_entries]
  uint32_t memmap_entries = 0;
  uint32_t reserved = 0;
};

struct PvhMemoryMapEntry {
  uint64_t addr = 0;
  uint64_t size = 0;
  PvhMemoryType type = PvhMemoryType::kRam;
  uint32_t reserved = 0;
};

static_assert(sizeof(PvhStartInfo) == 56 && offsetof(PvhStartInfo, cmdline_paddr) == 24 &&
              offsetof(PvhStartInfo, memmap_paddr) == 40 && offsetof(PvhStartInfo, memmap_entries) == 48);
static_assert(sizeof(PvhMemoryMapEntry) == 24 && offsetof(PvhMemoryMapEntry, type) == 16);

}  // namespace densevm
