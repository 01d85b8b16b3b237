#include "vmm/linux/linux_kernel.h"

#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "tests/support/tiny_elf.h"

namespace densevm {
namespace {

// A bzImage as the kernel's build lays it out: 4 setup sectors after the boot sector, the
// setup header at 0x1f1, then the protected-mode code.
struct FakeBzImage {
  std::vector<uint8_t> bytes = std::vector<uint8_t>(5 * 512 + 4096, 0);

  FakeBzImage() {
    bytes[0x1f1] = 4;  // setup_sects
    put<uint16_t>(0x1fe, 0xaa55);
    bytes[0x200] = 0xeb;
    bytes[0x201] = 0x6a;  // the header ends at 0x26c
    std::memcpy(bytes.data() + 0x202, "HdrS", 4);
    put<uint16_t>(0x206, 0x020f);
    bytes[0x211] = 0x01;  // LOADED_HIGH
    put<uint32_t>(0x22c, 0x7fffffff);
    put<uint32_t>(0x230, 0x200000);
    bytes[0x234] = 1;  // relocatable
    put<uint16_t>(0x236, 0x7f);  // XLF_KERNEL_64 and friends
    put<uint32_t>(0x238, 2047);
    put<uint64_t>(0x258, 0x1000000);
    put<uint32_t>(0x260, 0x800000);
    bytes[5 * 512] = 0xf4;  // the first byte of the protected-mode code
  }
  template <typename T>
  void put(size_t at, T v) { std::memcpy(bytes.data() + at, &v, sizeof v); }
};

std::string error_of(const std::vector<uint8_t>& file) {
  try {
    (void)parse_linux_kernel(file);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(LinuxKernel, ParsesABzImage) {
  const FakeBzImage f;
  const LinuxKernel k = parse_linux_kernel(f.bytes);
  EXPECT_EQ(k.format, LinuxKernel::Format::kBzImage);
  EXPECT_EQ(k.version, 0x020f);
  EXPECT_EQ(k.load_address(), 0x1000000u);
  EXPECT_EQ(k.entry(), 0x1000200u) << "startup_64 is 0x200 into the protected-mode code";
  EXPECT_EQ(k.end_address(), 0x1800000u) << "load address + init_size";
  EXPECT_EQ(k.protected_mode.size(), 4096u);
  EXPECT_EQ(k.protected_mode[0], 0xf4);
  ASSERT_EQ(k.setup_header.size(), 0x26cu - 0x1f1u);
  EXPECT_EQ(k.setup_header[0], 4) << "starts at setup_sects";
  EXPECT_EQ(k.cmdline_size, 2047u);
}

TEST(LinuxKernel, AlignsAMisalignedPreferredAddress) {
  FakeBzImage f;
  f.put<uint64_t>(0x258, 0x1100000);
  EXPECT_EQ(parse_linux_kernel(f.bytes).load_address(), 0x1200000u);
}

TEST(LinuxKernel, RefusesBadSetupHeaders) {
  struct Case {
    const char* what;
    void (*spoil)(FakeBzImage&);
    const char* error;
  };
  const Case cases[] = {
      {"protocol 2.11", [](FakeBzImage& f) { f.put<uint16_t>(0x206, 0x020b); }, "too old"},
      {"no boot flag", [](FakeBzImage& f) { f.put<uint16_t>(0x1fe, 0); }, "0xAA55"},
      {"32-bit only", [](FakeBzImage& f) { f.put<uint16_t>(0x236, 0x7e); }, "XLF_KERNEL_64"},
      {"zImage", [](FakeBzImage& f) { f.bytes[0x211] = 0; }, "zImage"},
      {"short header", [](FakeBzImage& f) { f.bytes[0x201] = 0x10; }, "corrupt bzImage setup header"},
      {"setup past the end", [](FakeBzImage& f) { f.bytes[0x1f1] = 200; }, "setup sectors"},
      {"alignment", [](FakeBzImage& f) { f.put<uint32_t>(0x230, 0x3000); }, "power of two"},
      {"pref_address", [](FakeBzImage& f) { f.put<uint64_t>(0x258, 0x1000); }, "pref_address"},
      {"init_size", [](FakeBzImage& f) { f.put<uint32_t>(0x260, 100); }, "init_size"},
  };
  for (const Case& c : cases) {
    FakeBzImage f;
    c.spoil(f);
    const std::string e = error_of(f.bytes);
    EXPECT_NE(e.find(c.error), std::string::npos) << c.what << ": " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << "one line";
  }
  FakeBzImage truncated;
  truncated.bytes.resize(0x204);
  EXPECT_NE(error_of(truncated.bytes), "");
}

TEST(LinuxKernel, RefusesWhatIsNeitherElfNorBzImage) {
  const std::string e = error_of(std::vector<uint8_t>(4096, 0x90));
  EXPECT_EQ(e, "not a Linux kernel: neither an ELF file nor a bzImage (no HdrS setup header)");
  EXPECT_NE(error_of({}), "");
}

TEST(LinuxKernel, TakesAVmlinuxElfAtItsPhysicalAddresses) {
  const std::vector<uint8_t> elf = testing::tiny_elf({0xf4}, 0x1000000);
  const LinuxKernel k = parse_linux_kernel(elf);
  EXPECT_EQ(k.format, LinuxKernel::Format::kElf);
  EXPECT_EQ(k.entry(), 0x1000000u);
  EXPECT_EQ(k.load_address(), 0x1000000u);
  EXPECT_EQ(k.initrd_addr_max, 0x7fffffffu);
  const std::string low = error_of(testing::tiny_elf({0xf4}, 0x10000));
  EXPECT_NE(low.find("below 1 MiB"), std::string::npos) << low;
}

TEST(LinuxKernel, LoadNamesTheFile) {
  try {
    (void)load_linux_kernel("/nonexistent/vmlinuz");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot open /nonexistent/vmlinuz: No such file or directory");
  }
}

}  // namespace
}  // namespace densevm
