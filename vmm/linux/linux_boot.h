// Linux's 64-bit boot protocol (Documentation/arch/x86/boot.rst, "64-bit BOOT PROTOCOL"):
// what the VMM does instead of a boot loader.
//
// Loads the kernel (a bzImage's protected-mode code at its aligned pref_address, or a
// vmlinux's segments at their physical addresses), the initrd at the top of RAM below
// initrd_addr_max, and the command line; fills the zero page (struct boot_params): the
// setup header, type_of_loader 0xff, cmd_line_ptr, ramdisk_image/size (and the ext_ high
// halves), the e820 map (RAM, the reserved legacy hole with the ACPI tables, and the MMIO
// windows of platform_layout.h) and acpi_rsdp_addr; then starts the vCPU in long mode on
// identity-mapped page tables covering all of it, with the GDT's __BOOT_CS (0x10) and
// __BOOT_DS (0x18), interrupts off, RSI = the zero page, at startup_64.
// Throws std::runtime_error with one line if the kernel, initrd or command line do not fit.
//
//   LinuxKernel k = load_linux_kernel("vmlinuz");
//   setup_linux_boot(memory, k, initrd, "console=ttyS0", kAcpiTablesBase, vcpu.state());
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mmu/guest_memory.h"
#include "vmm/cpu/cpu_state.h"
#include "vmm/linux/linux_kernel.h"

namespace densevm {

inline constexpr uint64_t kLinuxZeroPage = 0x3000;
inline constexpr uint64_t kLinuxCmdline = 0x4000;
inline constexpr uint64_t kLinuxCmdlineMax = 0x1000;  // including the NUL
inline constexpr uint16_t kLinuxBootCs = 0x10;
inline constexpr uint16_t kLinuxBootDs = 0x18;

struct E820Entry {
  uint64_t addr = 0;
  uint64_t size = 0;
  uint32_t type = 0;  // 1 RAM, 2 reserved
  friend bool operator==(const E820Entry&, const E820Entry&) = default;
};
inline constexpr uint32_t kE820Ram = 1, kE820Reserved = 2;

// The machine's memory map as Linux sees it, sorted by address.
[[nodiscard]] std::vector<E820Entry> linux_e820_map(const GuestMemory& memory);

// Where the initrd goes: page-aligned, as high as possible below the end of low RAM and
// initrd_addr_max, above the kernel's end_address(). Throws if it does not fit.
[[nodiscard]] uint64_t linux_initrd_address(const GuestMemory& memory, const LinuxKernel& kernel,
                                            uint64_t initrd_size);

void setup_linux_boot(GuestMemory& memory, const LinuxKernel& kernel, std::span<const uint8_t> initrd,
                      const std::string& cmdline, uint64_t acpi_rsdp, cpu::CpuState& cpu);

}  // namespace densevm
