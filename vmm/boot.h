// Direct 64-bit boot: what the VMM does instead of firmware (as Firecracker does).
//
// Loads the kernel's PT_LOAD segments, writes a PVH start info (memory map, command line)
// the guest also gets from QEMU's PVH loader, identity-maps guest RAM with 2 MiB pages,
// installs a flat GDT and puts the vCPU in long mode at the ELF entry with RBX = RDI = the
// start info. Throws std::runtime_error with one line if the guest cannot boot in this RAM.
//
//   GuestMemory mem(frames, 256ull << 20);
//   setup_direct_boot(mem, load_elf_file("guest.elf"), "workload=hello", vcpu.state());
//   vcpu.run(1'000'000);
#pragma once

#include <string>

#include "mmu/guest_memory.h"
#include "vmm/cpu/cpu_state.h"
#include "vmm/elf_loader.h"
#include "vmm/long_mode.h"
#include "vmm/platform_layout.h"

namespace densevm {

// Guest-physical layout of the boot structures (all below 1 MiB).
inline constexpr uint64_t kBootStartInfo = 0x6000;
// The VM generation id: 16 bytes after the start info (which is 56 bytes), named to the guest
// by vmgenid= on its command line (guest-tools/README.md, `genid`).
inline constexpr uint64_t kBootGenerationId = 0x6080;
static_assert(kBootGenerationId == kGenerationIdAddress, "the ACPI tables name the same address");
inline constexpr uint64_t kBootMemmap = 0x6100;
inline constexpr uint64_t kBootCmdline = 0x7000;
inline constexpr uint64_t kBootCmdlineMax = 0x1000;
inline constexpr uint64_t kKernelMinPaddr = 0x100000;
// Free RAM a guest needs beyond its image to boot at all.
inline constexpr uint64_t kBootMinFreeBytes = uint64_t{4} << 20;

void setup_direct_boot(GuestMemory& memory, const ElfImage& kernel, const std::string& cmdline,
                       cpu::CpuState& cpu);

}  // namespace densevm
