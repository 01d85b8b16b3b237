#include "vmm/linux/linux_boot.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "vmm/internal/hex.h"
#include "vmm/long_mode.h"
#include "vmm/platform_layout.h"

namespace densevm {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

// struct boot_params (arch/x86/include/uapi/asm/bootparam.h): offsets in the zero page.
constexpr uint64_t kAcpiRsdpAddr = 0x070;
constexpr uint64_t kExtRamdiskImage = 0x0c0;
constexpr uint64_t kExtRamdiskSize = 0x0c4;
constexpr uint64_t kExtCmdLinePtr = 0x0c8;
constexpr uint64_t kE820Entries = 0x1e8;
constexpr uint64_t kBootFlag = 0x1fe;
constexpr uint64_t kHeaderMagic = 0x202;
constexpr uint64_t kVersion = 0x206;
constexpr uint64_t kTypeOfLoader = 0x210;
constexpr uint64_t kLoadflags = 0x211;
constexpr uint64_t kRamdiskImage = 0x218;
constexpr uint64_t kRamdiskSize = 0x21c;
constexpr uint64_t kCmdLinePtr = 0x228;
constexpr uint64_t kKernelAlignment = 0x230;
constexpr uint64_t kCmdlineSize = 0x238;
constexpr uint64_t kE820Table = 0x2d0;
constexpr unsigned kE820MaxEntries = 128;  // E820_MAX_ENTRIES_ZEROPAGE

constexpr uint8_t kLoaderUndefined = 0xff;  // "not one of the registered boot loaders"
constexpr uint8_t kLoadedHigh = 0x01;

std::string mib(uint64_t bytes) { return std::to_string((bytes + kMiB - 1) / kMiB) + " MiB"; }

template <typename T>
void put(uint8_t* page, uint64_t offset, T value) {
  std::memcpy(page + offset, &value, sizeof value);
}

void load_kernel(GuestMemory& m, const LinuxKernel& k) {
  const uint64_t low_end = m.ram_ranges().front().size;
  if (k.end_address() > low_end) {
    throw std::runtime_error("the Linux kernel needs " + mib(k.end_address()) + " of RAM below 3 GiB to boot; --mem gives " +
                             mib(m.ram_bytes()));
  }
  if (k.format == LinuxKernel::Format::kBzImage) {
    must_write(m, k.load_address(), k.protected_mode.data(), k.protected_mode.size());
    return;
  }
  for (const ElfSegment& s : k.elf.segments) must_write(m, s.paddr, s.bytes.data(), s.bytes.size());
}

// A bzImage brings its own setup header; a vmlinux gets the fields boot.rst says a loader
// must fill for a kernel without one (as Firecracker and cloud-hypervisor do).
void write_setup_header(uint8_t* zp, const LinuxKernel& k) {
  if (k.format == LinuxKernel::Format::kBzImage) {
    std::memcpy(zp + kSetupHeaderOffset, k.setup_header.data(), k.setup_header.size());
  } else {
    put<uint16_t>(zp, kBootFlag, 0xaa55);
    std::memcpy(zp + kHeaderMagic, "HdrS", 4);
    put<uint16_t>(zp, kVersion, 0x020f);
    put<uint32_t>(zp, kKernelAlignment, 0x200000);
    put<uint32_t>(zp, kCmdlineSize, k.cmdline_size);
  }
  zp[kTypeOfLoader] = kLoaderUndefined;
  zp[kLoadflags] |= kLoadedHigh;
}

}  // namespace

std::vector<E820Entry> linux_e820_map(const GuestMemory& m) {
  std::vector<E820Entry> map;
  const std::vector<GuestMemory::Range>& ram = m.ram_ranges();
  const uint64_t low_end = ram.front().begin.value() + ram.front().size;
  map.push_back({0, std::min(kLegacyHoleBase, low_end), kE820Ram});
  map.push_back({kLegacyHoleBase, kMiB - kLegacyHoleBase, kE820Reserved});
  if (low_end > kMiB) map.push_back({kMiB, low_end - kMiB, kE820Ram});
  map.push_back({kVirtioMmioBase, kPageSize, kE820Reserved});
  map.push_back({kIoApicBase, kIoApicSize, kE820Reserved});
  map.push_back({kLocalApicBase, kLocalApicSize, kE820Reserved});
  for (size_t i = 1; i < ram.size(); ++i) map.push_back({ram[i].begin.value(), ram[i].size, kE820Ram});
  return map;
}

uint64_t linux_initrd_address(const GuestMemory& m, const LinuxKernel& k, uint64_t size) {
  const uint64_t low_end = m.ram_ranges().front().size;
  const uint64_t limit = std::min<uint64_t>(low_end, uint64_t{k.initrd_addr_max} + 1) & ~kPageMask;
  const uint64_t floor = (k.end_address() + kPageMask) & ~kPageMask;
  if (size > limit || limit - size < floor) {
    throw std::runtime_error("the initrd (" + mib(size) + ") does not fit in guest RAM above the kernel (" +
                             mib(k.end_address()) + ") and below " + hex(limit) + "; --mem gives " +
                             mib(m.ram_bytes()));
  }
  return (limit - size) & ~kPageMask;
}

void setup_linux_boot(GuestMemory& m, const LinuxKernel& k, std::span<const uint8_t> initrd,
                      const std::string& cmdline, uint64_t acpi_rsdp, cpu::CpuState& cpu) {
  if (cmdline.size() > k.cmdline_size || cmdline.size() >= kLinuxCmdlineMax) {
    throw std::runtime_error("the kernel command line is " + std::to_string(cmdline.size()) +
                             " bytes; this kernel takes at most " +
                             std::to_string(std::min<uint64_t>(k.cmdline_size, kLinuxCmdlineMax - 1)));
  }
  load_kernel(m, k);
  uint64_t initrd_at = 0;
  if (!initrd.empty()) {
    initrd_at = linux_initrd_address(m, k, initrd.size());
    must_write(m, initrd_at, initrd.data(), initrd.size());
  }
  must_write(m, kLinuxCmdline, cmdline.c_str(), cmdline.size() + 1);

  uint8_t zp[kPageSize] = {};
  write_setup_header(zp, k);
  put<uint32_t>(zp, kCmdLinePtr, static_cast<uint32_t>(kLinuxCmdline));
  put<uint32_t>(zp, kExtCmdLinePtr, 0);
  put<uint32_t>(zp, kRamdiskImage, static_cast<uint32_t>(initrd_at));
  put<uint32_t>(zp, kExtRamdiskImage, static_cast<uint32_t>(initrd_at >> 32));
  put<uint32_t>(zp, kRamdiskSize, static_cast<uint32_t>(initrd.size()));
  put<uint32_t>(zp, kExtRamdiskSize, static_cast<uint32_t>(uint64_t{initrd.size()} >> 32));
  put<uint64_t>(zp, kAcpiRsdpAddr, acpi_rsdp);
  const std::vector<E820Entry> map = linux_e820_map(m);
  if (map.size() > kE820MaxEntries) throw std::logic_error("e820 map too long");
  zp[kE820Entries] = static_cast<uint8_t>(map.size());
  for (size_t i = 0; i < map.size(); ++i) {
    // struct boot_e820_entry: u64 addr, u64 size, u32 type, packed (20 bytes).
    put<uint64_t>(zp, kE820Table + i * 20, map[i].addr);
    put<uint64_t>(zp, kE820Table + i * 20 + 8, map[i].size);
    put<uint32_t>(zp, kE820Table + i * 20 + 16, map[i].type);
  }
  must_write(m, kLinuxZeroPage, zp, sizeof zp);

  write_identity_page_tables(m);
  enter_long_mode(m, cpu, k.entry(), {.code = kLinuxBootCs, .data = kLinuxBootDs});
  cpu.gpr[cpu::kRsi] = kLinuxZeroPage;
}

}  // namespace densevm
