#include "vmm/acpi/acpi_tables.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "vmm/platform_layout.h"

namespace densevm::acpi {
namespace {

constexpr uint64_t kBase = kAcpiTablesBase;

uint64_t u64_at(const std::vector<uint8_t>& b, uint64_t off) {
  uint64_t v = 0;
  std::memcpy(&v, b.data() + off, 8);
  return v;
}
uint32_t u32_at(const std::vector<uint8_t>& b, uint64_t off) {
  uint32_t v = 0;
  std::memcpy(&v, b.data() + off, 4);
  return v;
}

// The table at guest-physical `gpa`, checked: inside the blob, its length and checksum.
std::vector<uint8_t> table_at(const std::vector<uint8_t>& blob, uint64_t gpa, const char* signature) {
  EXPECT_GE(gpa, kBase);
  const uint64_t off = gpa - kBase;
  EXPECT_LE(off + kHeaderSize, blob.size());
  if (off + kHeaderSize > blob.size()) return {};
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(blob.data() + off), 4), signature);
  const uint32_t len = u32_at(blob, off + kLengthOffset);
  EXPECT_LE(off + len, blob.size());
  std::vector<uint8_t> t(blob.begin() + static_cast<ptrdiff_t>(off), blob.begin() + static_cast<ptrdiff_t>(off + len));
  EXPECT_EQ(checksum(t), 0) << signature;
  return t;
}

TEST(AcpiTables, RsdpLeadsToXsdtFadtMadtAndDsdt) {
  const std::vector<uint8_t> blob = build_acpi_tables(kBase);
  ASSERT_LE(blob.size(), kAcpiTablesSize);
  ASSERT_GE(blob.size(), 36u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(blob.data()), 8), "RSD PTR ");
  EXPECT_EQ(checksum(std::span(blob).first(20)), 0) << "ACPI 1.0 checksum";
  EXPECT_EQ(checksum(std::span(blob).first(36)), 0) << "extended checksum";
  EXPECT_EQ(blob[15], 2) << "revision 2: use the XSDT";
  EXPECT_EQ(u32_at(blob, 16), 0u) << "no RSDT";

  const std::vector<uint8_t> xsdt = table_at(blob, u64_at(blob, 24), "XSDT");
  ASSERT_EQ(xsdt.size(), kHeaderSize + 16);
  const std::vector<uint8_t> fadt = table_at(blob, u64_at(xsdt, kHeaderSize), "FACP");
  const std::vector<uint8_t> madt = table_at(blob, u64_at(xsdt, kHeaderSize + 8), "APIC");
  ASSERT_EQ(fadt.size(), 276u);
  EXPECT_EQ(u32_at(fadt, kFadtFlags) & kFadtHwReducedAcpi, kFadtHwReducedAcpi);
  EXPECT_EQ(u32_at(fadt, kFadtFlags) & kFadtResetRegSup, kFadtResetRegSup);
  EXPECT_EQ(fadt[kFadtSleepControl], 1) << "sleep control in port space";
  EXPECT_EQ(u64_at(fadt, kFadtSleepControl + 4), kAcpiSleepControlPort);
  EXPECT_EQ(u64_at(fadt, kFadtResetReg + 4), kAcpiResetPort);
  EXPECT_EQ(fadt[128], kAcpiResetValue);
  EXPECT_EQ(fadt[109] & 0x22, 0) << "an 8042 and no CMOS RTC would both be wrong";
  const std::vector<uint8_t> dsdt = table_at(blob, u64_at(fadt, kFadtXDsdt), "DSDT");
  EXPECT_EQ(u32_at(fadt, 40), u64_at(fadt, kFadtXDsdt)) << "32-bit DSDT pointer agrees";
  EXPECT_EQ(std::vector<uint8_t>(dsdt.begin() + kHeaderSize, dsdt.end()), build_dsdt_body());

  EXPECT_EQ(u32_at(madt, kHeaderSize), kLocalApicBase);
  EXPECT_EQ(u32_at(madt, kHeaderSize + 4) & 1, 0u) << "no PC/AT 8259";
  // Entries: local APIC (type 0), IOAPIC (type 1) at kIoApicBase with GSI base 0.
  const size_t first = kHeaderSize + 8;
  EXPECT_EQ(madt[first], 0);
  EXPECT_EQ(madt[first + 8], 1);
  EXPECT_EQ(u32_at(madt, first + 8 + 4), kIoApicBase);
  EXPECT_EQ(u32_at(madt, first + 8 + 8), 0u);
}

// ACPICA's own disassembler (the interpreter Linux runs) reads our DSDT back: what Linux's
// virtio_mmio, 8250_pnp, rtc_cmos and poweroff look for is there, spelled as iasl spells it.
TEST(AcpiTables, IaslDisassemblesTheDsdt) {
  const std::vector<uint8_t> blob = build_acpi_tables(kBase);
  const uint64_t xsdt = u64_at(blob, 24) - kBase;
  const uint64_t fadt = u64_at(blob, xsdt + kHeaderSize) - kBase;
  const uint64_t dsdt = u64_at(blob, fadt + kFadtXDsdt) - kBase;
  const uint32_t len = u32_at(blob, dsdt + kLengthOffset);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("densevm-acpi-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream out(dir / "dsdt.dat", std::ios::binary);
    out.write(reinterpret_cast<const char*>(blob.data() + dsdt), len);
  }
  const std::string cmd = "cd " + dir.string() + " && iasl -d dsdt.dat >iasl.log 2>&1";
  const int rc = std::system(cmd.c_str());
  std::stringstream dsl;
  dsl << std::ifstream(dir / "dsdt.dsl").rdbuf();
  std::filesystem::remove_all(dir);
  ASSERT_EQ(rc, 0) << "iasl (acpica-tools, see scripts/install-deps.sh) failed or is missing";
  const std::string text = dsl.str();
  for (const char* want : {
           "Name (_HID, \"LNRO0005\")",
           "Memory32Fixed (ReadWrite,\n                    0xD0000000,",
           "Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive, ,, )\n                {\n                    0x00000005,",
           "Name (_HID, EisaId (\"PNP0501\")",
           "IO (Decode16,\n                    0x03F8,",
           "IRQNoFlags ()\n                    {4}",
           "Name (_HID, EisaId (\"PNP0B00\")",
           "IRQNoFlags ()\n                    {8}",
           "Name (\\_S5, Package (0x04)",
           "Name (_HID, \"VMGENCTR\")",
           "Name (_CID, \"VM_GEN_COUNTER\")",
           "Name (ADDR, Package (0x02)\n            {\n                0x6080, \n                Zero\n            })",
           "Name (_HID, \"ACPI0013\"",
           "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )\n                {\n                    0x00000009,",
           "Method (_EVT, 1, NotSerialized)",
           "Notify (\\_SB.VGEN, 0x80)",
       }) {
    EXPECT_NE(text.find(want), std::string::npos) << "missing: " << want << "\n" << text;
  }
}

}  // namespace
}  // namespace densevm::acpi
