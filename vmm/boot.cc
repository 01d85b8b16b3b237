#include "vmm/boot.h"

#include <stdexcept>
#include <vector>

#include "vmm/pvh_start_info.h"

namespace densevm {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kPte2MiB = 0x83;  // present, writable, page size
constexpr uint64_t kPteTable = 0x03;  // present, writable

void must_write(GuestMemory& m, uint64_t gpa, const void* data, size_t size) {
  if (!m.write(Gpa{gpa}, data, size)) {
    throw std::runtime_error("guest RAM too small for the boot structures");
  }
}

void load_kernel(GuestMemory& m, const ElfImage& kernel) {
  const uint64_t ram_low = m.ram_ranges().front().size;
  if (kernel.lowest_paddr < kKernelMinPaddr) {
    throw std::runtime_error("guest kernel loads below 1 MiB, where the boot structures live");
  }
  if (kernel.end_paddr > ram_low || ram_low - kernel.end_paddr < kBootMinFreeBytes) {
    throw std::runtime_error("guest image needs " + std::to_string((kernel.end_paddr + kBootMinFreeBytes + kMiB - 1) / kMiB) +
                             " MiB of RAM to boot; --mem gives " +
                             std::to_string(m.ram_bytes() / kMiB) + " MiB");
  }
  for (const ElfSegment& s : kernel.segments) {
    must_write(m, s.paddr, s.bytes.data(), s.bytes.size());
    // The rest up to memsz is .bss: fresh guest pages are already zero.
  }
}

void write_start_info(GuestMemory& m, const std::string& cmdline) {
  if (cmdline.size() >= kBootCmdlineMax) throw std::runtime_error("guest command line too long");
  must_write(m, kBootCmdline, cmdline.c_str(), cmdline.size() + 1);

  std::vector<PvhMemoryMapEntry> map;
  map.push_back({0, 0xa0000, PvhMemoryType::kRam, 0});
  map.push_back({0xa0000, kKernelMinPaddr - 0xa0000, PvhMemoryType::kReserved, 0});
  for (const GuestMemory::Range& r : m.ram_ranges()) {
    const uint64_t begin = std::max(r.begin.value(), kKernelMinPaddr);
    map.push_back({begin, r.begin.value() + r.size - begin, PvhMemoryType::kRam, 0});
  }
  must_write(m, kBootMemmap, map.data(), map.size() * sizeof(map[0]));

  PvhStartInfo si;
  si.magic = kPvhStartMagic;
  si.version = 1;
  si.cmdline_paddr = kBootCmdline;
  si.memmap_paddr = kBootMemmap;
  si.memmap_entries = static_cast<uint32_t>(map.size());
  must_write(m, kBootStartInfo, &si, sizeof si);
}

// Identity map of [0, top) with 2 MiB pages: PML4 -> one PDPT -> one PD per GiB.
void write_page_tables(GuestMemory& m) {
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

}  // namespace

void setup_direct_boot(GuestMemory& memory, const ElfImage& kernel, const std::string& cmdline,
                       cpu::CpuState& cpu) {
  load_kernel(memory, kernel);
  write_start_info(memory, cmdline);
  write_page_tables(memory);
  // Null, 64-bit code (0x08), data (0x10).
  const uint64_t gdt[3] = {0, 0x00af9a000000ffff, 0x00cf92000000ffff};
  must_write(memory, kBootGdt, gdt, sizeof gdt);

  cpu = cpu::CpuState{};
  cpu.cr0 = cpu::kCr0Pe | cpu::kCr0Pg | cpu::kCr0Wp | (1u << 4) /* ET */ | (1u << 5) /* NE */;
  cpu.cr3 = kBootPml4;
  cpu.cr4 = cpu::kCr4Pae;
  cpu.efer = cpu::kEferLme | cpu::kEferLma;
  cpu.cs = 0x08;
  cpu.ss = cpu.ds = cpu.es = 0x10;
  cpu.gdtr = {kBootGdt, sizeof gdt - 1};
  cpu.rip = kernel.entry;
  cpu.gpr[cpu::kRbx] = cpu.gpr[cpu::kRdi] = kBootStartInfo;
}

}  // namespace densevm
