// The long-mode start both boot paths share (the built-in guest's direct boot, Linux's
// 64-bit boot protocol): identity-mapped page tables over guest RAM and the MMIO below
// 4 GiB, a flat GDT, and a vCPU in 64-bit mode at ring 0 with interrupts off.
//
//   write_identity_page_tables(memory);
//   enter_long_mode(memory, cpu, entry, {.code = 0x10, .data = 0x18});  // Linux's __BOOT_CS/DS
#pragma once

#include <cstdint>

#include "mmu/guest_memory.h"
#include "vmm/cpu/cpu_state.h"

namespace densevm {

inline constexpr uint64_t kBootGdt = 0x8000;
inline constexpr uint64_t kBootPml4 = 0x10000;

// Writes `size` bytes at `gpa`, or throws std::runtime_error("guest RAM too small for the
// boot structures").
void must_write(GuestMemory& memory, uint64_t gpa, const void* data, size_t size);

// Identity map of [0, max(4 GiB, end of RAM)) with 2 MiB pages at kBootPml4 (PML4, one
// PDPT, one PD per GiB), all below 0xa0000.
void write_identity_page_tables(GuestMemory& memory);

struct BootSelectors {
  uint16_t code = 0x08;  // a 64-bit code descriptor
  uint16_t data = 0x10;  // a flat data descriptor
};

// A GDT at kBootGdt holding a 64-bit code and a data descriptor at the given selectors
// (each a multiple of 8 below 0x40), and the vCPU reset into long mode: CR0 PE|PG|WP,
// CR4 PAE, EFER LME|LMA, CR3 kBootPml4, RFLAGS 2, RIP `entry`, every other register 0.
void enter_long_mode(GuestMemory& memory, cpu::CpuState& cpu, uint64_t entry, BootSelectors selectors);

}  // namespace densevm
