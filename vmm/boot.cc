#include "vmm/boot.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "vmm/pvh_start_info.h"

namespace densevm {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

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

}  // namespace

void setup_direct_boot(GuestMemory& memory, const ElfImage& kernel, const std::string& cmdline,
                       cpu::CpuState& cpu) {
  load_kernel(memory, kernel);
  write_start_info(memory, cmdline);
  write_identity_page_tables(memory);
  enter_long_mode(memory, cpu, kernel.entry, {.code = 0x08, .data = 0x10});
  cpu.gpr[cpu::kRbx] = cpu.gpr[cpu::kRdi] = kBootStartInfo;
}

}  // namespace densevm
