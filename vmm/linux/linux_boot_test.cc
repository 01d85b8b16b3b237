#include "vmm/linux/linux_boot.h"

#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>

#include "tests/support/tiny_elf.h"
#include "vmm/platform_layout.h"

namespace densevm {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

LinuxKernel vmlinux() { return parse_linux_kernel(testing::tiny_elf({0xf4}, 0x1000000)); }

template <typename T>
T zero_page_field(GuestMemory& m, uint64_t offset) {
  T v{};
  EXPECT_TRUE(m.read(Gpa{kLinuxZeroPage + offset}, &v, sizeof v));
  return v;
}

TEST(LinuxBoot, E820MapsRamAndReservesTheLegacyHoleAndMmio) {
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory m(frames, 256 * kMiB);
  const std::vector<E820Entry> map = linux_e820_map(m);
  const std::vector<E820Entry> want = {
      {0, 0xa0000, kE820Ram},
      {0xa0000, 0x60000, kE820Reserved},
      {0x100000, 255 * kMiB, kE820Ram},
      {kVirtioMmioBase, 0x1000, kE820Reserved},
      {kIoApicBase, 0x1000, kE820Reserved},
      {kLocalApicBase, 0x1000, kE820Reserved},
  };
  EXPECT_EQ(map, want);
  GuestMemory big(frames, uint64_t{3} << 30 | 512 * kMiB);
  const std::vector<E820Entry> high = linux_e820_map(big);
  EXPECT_EQ(high.back(), (E820Entry{uint64_t{4} << 30, 512 * kMiB, kE820Ram})) << "RAM above 4 GiB";
}

TEST(LinuxBoot, FillsTheZeroPageAndStartsAtStartup64) {
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory m(frames, 128 * kMiB);
  const std::vector<uint8_t> initrd(3 * 4096 + 5, 0xab);
  cpu::CpuState cpu;
  setup_linux_boot(m, vmlinux(), initrd, "console=ttyS0", kAcpiTablesBase, cpu);

  EXPECT_EQ(zero_page_field<uint16_t>(m, 0x1fe), 0xaa55);
  EXPECT_EQ(zero_page_field<uint32_t>(m, 0x202), 0x53726448u) << "HdrS";
  EXPECT_EQ(zero_page_field<uint8_t>(m, 0x210), 0xff) << "type_of_loader: undefined";
  EXPECT_EQ(zero_page_field<uint8_t>(m, 0x211) & 1, 1) << "LOADED_HIGH";
  EXPECT_EQ(zero_page_field<uint32_t>(m, 0x228), kLinuxCmdline);
  EXPECT_EQ(zero_page_field<uint64_t>(m, 0x070), kAcpiTablesBase) << "acpi_rsdp_addr";
  const uint32_t ramdisk = zero_page_field<uint32_t>(m, 0x218);
  EXPECT_EQ(zero_page_field<uint32_t>(m, 0x21c), initrd.size());
  EXPECT_EQ(zero_page_field<uint32_t>(m, 0x0c0), 0u) << "ext_ramdisk_image";
  EXPECT_EQ(ramdisk % 4096, 0u);
  EXPECT_EQ(ramdisk, 128 * kMiB - 4 * 4096) << "as high as it fits";
  uint8_t byte = 0;
  ASSERT_TRUE(m.read(Gpa{ramdisk + initrd.size() - 1}, &byte, 1));
  EXPECT_EQ(byte, 0xab);
  char cmdline[16] = {};
  ASSERT_TRUE(m.read(Gpa{kLinuxCmdline}, cmdline, sizeof cmdline));
  EXPECT_STREQ(cmdline, "console=ttyS0");
  EXPECT_EQ(zero_page_field<uint8_t>(m, 0x1e8), 6) << "e820 entries";
  EXPECT_EQ(zero_page_field<uint64_t>(m, 0x2d0 + 2 * 20), 0x100000u) << "third entry: RAM from 1 MiB";
  EXPECT_EQ(zero_page_field<uint32_t>(m, 0x2d0 + 2 * 20 + 16), kE820Ram);

  // boot.rst, 64-bit protocol: long mode, __BOOT_CS/__BOOT_DS, RSI = zero page, IF clear.
  EXPECT_EQ(cpu.rip, 0x1000000u);
  EXPECT_EQ(cpu.gpr[cpu::kRsi], kLinuxZeroPage);
  EXPECT_EQ(cpu.cs, 0x10);
  EXPECT_EQ(cpu.ds, 0x18);
  EXPECT_EQ(cpu.ss, 0x18);
  EXPECT_EQ(cpu.rflags & cpu::kFlagIf, 0u);
  EXPECT_TRUE(cpu.efer & cpu::kEferLma);
  uint64_t code = 0;
  ASSERT_TRUE(m.read(Gpa{cpu.gdtr.base + 0x10}, &code, 8));
  EXPECT_EQ((code >> 53) & 1, 1u) << "GDT entry 0x10 is 64-bit code";
  // The identity map covers the kernel, the zero page and the initrd: PML4[0] -> PDPT.
  uint64_t pml4e = 0;
  ASSERT_TRUE(m.read(Gpa{cpu.cr3}, &pml4e, 8));
  EXPECT_EQ(pml4e & 1, 1u);
}

TEST(LinuxBoot, BzImageGoesAtItsLoadAddressWithItsOwnHeader) {
  std::vector<uint8_t> file(5 * 512 + 1024, 0);
  file[0x1f1] = 4;
  file[0x1fe] = 0x55;
  file[0x1ff] = 0xaa;
  file[0x201] = 0x6a;
  std::memcpy(file.data() + 0x202, "HdrS", 4);
  file[0x206] = 0x0f;
  file[0x207] = 0x02;
  file[0x211] = 1;
  file[0x232] = 0x20;  // kernel_alignment 0x200000
  file[0x234] = 1;
  file[0x236] = 1;
  file[0x238] = 0xff;  // cmdline_size 255
  file[0x25b] = 0x01;  // pref_address 0x1000000
  file[0x262] = 0x10;  // init_size 0x100000
  file[5 * 512 + 0x200] = 0xf4;
  const LinuxKernel k = parse_linux_kernel(file);
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory m(frames, 64 * kMiB);
  cpu::CpuState cpu;
  setup_linux_boot(m, k, {}, "quiet", kAcpiTablesBase, cpu);
  EXPECT_EQ(cpu.rip, 0x1000200u);
  uint8_t hlt = 0;
  ASSERT_TRUE(m.read(Gpa{0x1000200}, &hlt, 1));
  EXPECT_EQ(hlt, 0xf4);
  EXPECT_EQ(zero_page_field<uint32_t>(m, 0x238), 255u) << "the file's header, copied";
  EXPECT_EQ(zero_page_field<uint32_t>(m, 0x21c), 0u) << "no initrd";
  const std::string too_long(300, 'x');
  EXPECT_THROW(setup_linux_boot(m, k, {}, too_long, kAcpiTablesBase, cpu), std::runtime_error);
}

TEST(LinuxBoot, RefusesWhatDoesNotFit) {
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory small(frames, 16 * kMiB);
  cpu::CpuState cpu;
  try {
    setup_linux_boot(small, vmlinux(), {}, "", kAcpiTablesBase, cpu);
    FAIL() << "a kernel at 16 MiB does not fit in 16 MiB";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("needs 17 MiB"), std::string::npos) << e.what();
  }
  GuestMemory m(frames, 64 * kMiB);
  const std::vector<uint8_t> huge(60 * kMiB, 1);
  try {
    setup_linux_boot(m, vmlinux(), huge, "", kAcpiTablesBase, cpu);
    FAIL() << "60 MiB of initrd above a kernel ending past 16 MiB in 64 MiB";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("the initrd (60 MiB) does not fit"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace densevm
