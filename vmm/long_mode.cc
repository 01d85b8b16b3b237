#include "vmm/long_mode.h"

#include <algorithm>
#include <stdexcept>

namespace densevm {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kPte2MiB = 0x83;  // present, writable, page size
constexpr uint64_t kPteTable = 0x03;  // present, writable
constexpr uint64_t kCode64 = 0x00af9a000000ffff;  // present, DPL 0, execute/read, L=1
constexpr uint64_t kData = 0x00cf92000000ffff;    // present, DPL 0, read/write, 4 GiB

}  // namespace

void must_write(GuestMemory& m, uint64_t gpa, const void* data, size_t size) {
  if (!m.write(Gpa{gpa}, data, size)) {
    throw std::runtime_error("guest RAM too small for the boot structures");
  }
}

void write_identity_page_tables(GuestMemory& m) {
  const auto& last = m.ram_ranges().back();
  const uint64_t top = std::max<uint64_t>(4 * kGiB, last.begin.value() + last.size);
  const uint64_t gibs = (top + kGiB - 1) / kGiB;
  const uint64_t pdpt = kBootPml4 + 0x1000, pd0 = kBootPml4 + 0x2000;
  if (pd0 + gibs * 0x1000 > 0xa0000) throw std::runtime_error("guest RAM above 128 GiB is not supported");
  const uint64_t pml4e = pdpt | kPteTable;
  must_write(m, kBootPml4, &pml4e, 8);
  for (uint64_t g = 0; g < gibs; ++g) {
    const uint64_t pdpte = (pd0 + g * 0x1000) | kPteTable;
    must_write(m, pdpt + g * 8, &pdpte, 8);
    uint64_t pd[512];
    for (uint64_t i = 0; i < 512; ++i) pd[i] = (g * kGiB + i * 2 * kMiB) | kPte2MiB;
    must_write(m, pd0 + g * 0x1000, pd, sizeof pd);
  }
}

void enter_long_mode(GuestMemory& memory, cpu::CpuState& cpu, uint64_t entry, BootSelectors sel) {
  if (sel.code % 8 || sel.data % 8 || sel.code == sel.data || !sel.code || !sel.data || sel.code >= 0x40 ||
      sel.data >= 0x40) {
    throw std::logic_error("bad boot selectors");
  }
  uint64_t gdt[8] = {};
  gdt[sel.code / 8] = kCode64;
  gdt[sel.data / 8] = kData;
  const uint16_t entries = static_cast<uint16_t>(std::max(sel.code, sel.data) / 8 + 1);
  must_write(memory, kBootGdt, gdt, entries * 8u);

  cpu = cpu::CpuState{};
  cpu.cr0 = cpu::kCr0Pe | cpu::kCr0Pg | cpu::kCr0Wp | (1u << 4) /* ET */ | (1u << 5) /* NE */;
  cpu.cr3 = kBootPml4;
  cpu.cr4 = cpu::kCr4Pae;
  cpu.efer = cpu::kEferLme | cpu::kEferLma;
  cpu.cs = sel.code;
  cpu.ss = cpu.ds = cpu.es = sel.data;
  cpu.gdtr = {kBootGdt, static_cast<uint16_t>(entries * 8 - 1)};
  cpu.rip = entry;
}

}  // namespace densevm
