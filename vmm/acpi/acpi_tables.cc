#include "vmm/acpi/acpi_tables.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "vmm/acpi/aml.h"
#include "vmm/platform_layout.h"

namespace densevm::acpi {
namespace {

constexpr char kOemId[] = "DENSVM";          // 6 characters
constexpr char kOemTableId[] = "DENSEVM ";   // 8 characters
constexpr uint32_t kCreatorId = 0x4d565344;  // "DSVM"

class Table {
 public:
  Table(std::string_view signature, uint8_t revision) : bytes_(kHeaderSize, 0) {
    std::memcpy(bytes_.data(), signature.data(), 4);
    bytes_[8] = revision;
    std::memcpy(bytes_.data() + 10, kOemId, 6);
    std::memcpy(bytes_.data() + 16, kOemTableId, 8);
    put(24, 1, 4);           // OEM revision
    put(28, kCreatorId, 4);  // creator ID
    put(32, 1, 4);           // creator revision
  }
  void append(std::span<const uint8_t> more) { bytes_.insert(bytes_.end(), more.begin(), more.end()); }
  void zeros(size_t n) { bytes_.resize(bytes_.size() + n, 0); }
  void put(size_t at, uint64_t v, unsigned n) {
    for (unsigned i = 0; i < n; ++i) bytes_[at + i] = static_cast<uint8_t>(v >> (8 * i));
  }
  void u32(uint32_t v) { le(v, 4); }
  void u64(uint64_t v) { le(v, 8); }
  // Length and checksum filled in: the table is complete.
  std::vector<uint8_t> finish() {
    put(kLengthOffset, bytes_.size(), 4);
    bytes_[kChecksumOffset] = 0;
    bytes_[kChecksumOffset] = static_cast<uint8_t>(-checksum(bytes_));
    return std::move(bytes_);
  }

 private:
  void le(uint64_t v, unsigned n) {
    zeros(n);
    put(bytes_.size() - n, v, n);
  }
  std::vector<uint8_t> bytes_;
};

// Generic Address Structure (ACPI 6.4 §5.2.3.2): one byte register in port space.
void gas_io_byte(Table& t, size_t at, uint16_t port) {
  t.put(at, 1, 1);      // address space: system I/O
  t.put(at + 1, 8, 1);  // register bit width
  t.put(at + 2, 0, 1);  // bit offset
  t.put(at + 3, 1, 1);  // access size: byte
  t.put(at + 4, port, 8);
}

std::vector<uint8_t> fadt(uint64_t dsdt) {
  Table t("FACP", 6);
  t.zeros(276 - kHeaderSize);
  t.put(40, dsdt, 4);          // DSDT (32-bit)
  t.put(108, 0x32, 1);         // CENTURY: the CMOS register holding the century
  t.put(109, 1u << 2, 2);      // IAPC_BOOT_ARCH: VGA not present; no 8042, no legacy devices
  t.put(kFadtFlags, kFadtHwReducedAcpi | kFadtResetRegSup, 4);
  gas_io_byte(t, kFadtResetReg, kAcpiResetPort);
  t.put(128, kAcpiResetValue, 1);  // RESET_VALUE
  t.put(131, 4, 1);                // FADT minor version: 6.4
  t.put(kFadtXDsdt, dsdt, 8);
  gas_io_byte(t, kFadtSleepControl, kAcpiSleepControlPort);
  gas_io_byte(t, 256, kAcpiSleepStatusPort);  // SLEEP_STATUS_REG
  return t.finish();
}

std::vector<uint8_t> madt() {
  Table t("APIC", 5);
  t.u32(static_cast<uint32_t>(kLocalApicBase));
  t.u32(0);  // flags: PCAT_COMPAT clear, there is no 8259
  // Processor Local APIC: type 0, length 8, ACPI processor UID 0, APIC ID 0, enabled.
  t.append(std::vector<uint8_t>{0, 8, 0, 0, 1, 0, 0, 0});
  // I/O APIC: type 1, length 12, IOAPIC ID 1 (the local APIC has 0), reserved, address,
  // global system interrupt base 0.
  t.append(std::vector<uint8_t>{1, 12, 1, 0});
  t.u32(static_cast<uint32_t>(kIoApicBase));
  t.u32(0);
  // Local APIC NMI: type 4, length 6, all processors (0xff), flags 0 (bus default), LINT1.
  t.append(std::vector<uint8_t>{4, 6, 0xff, 0, 0, 1});
  return t.finish();
}

std::vector<uint8_t> xsdt(std::span<const uint64_t> tables) {
  Table t("XSDT", 1);
  for (uint64_t a : tables) t.u64(a);
  return t.finish();
}

std::vector<uint8_t> rsdp(uint64_t xsdt_address) {
  std::vector<uint8_t> r(36, 0);
  std::memcpy(r.data(), "RSD PTR ", 8);
  std::memcpy(r.data() + 9, kOemId, 6);
  r[15] = 2;  // revision: ACPI 2.0+, the XSDT is valid
  r[20] = 36;  // length
  for (unsigned i = 0; i < 8; ++i) r[24 + i] = static_cast<uint8_t>(xsdt_address >> (8 * i));
  r[8] = static_cast<uint8_t>(-checksum(std::span(r).first(20)));  // ACPI 1.0 part
  r[32] = static_cast<uint8_t>(-checksum(r));                      // extended checksum
  return r;
}

void align(std::vector<uint8_t>& blob, size_t to) { blob.resize((blob.size() + to - 1) / to * to, 0); }

}  // namespace

uint8_t checksum(std::span<const uint8_t> bytes) {
  uint8_t sum = 0;
  for (uint8_t b : bytes) sum = static_cast<uint8_t>(sum + b);
  return sum;
}

std::vector<uint8_t> build_dsdt_body() {
  Aml com1;
  com1.name("_HID", Aml::eisa_id("PNP0501"))
      .name("_UID", Aml::integer(1))
      .name("_CRS", Aml::buffer(Resources().io(kCom1Port, 8).irq_no_flags(kCom1Irq).take()));
  Aml rtc;
  rtc.name("_HID", Aml::eisa_id("PNP0B00"))
      .name("_CRS", Aml::buffer(Resources().io(kRtcPort, 2).irq_no_flags(kRtcIrq).take()));
  Aml balloon;
  balloon.name("_HID", Aml::string("LNRO0005"))
      .name("_UID", Aml::integer(0))
      .name("_CCA", Aml::integer(1))  // cache-coherent DMA
      .name("_CRS", Aml::buffer(Resources()
                                    .memory32_fixed(static_cast<uint32_t>(kVirtioMmioBase), 0x200)
                                    .interrupt_level_high(kVirtioMmioIrq)
                                    .take()));
  // VMGENID (Microsoft's "Virtual Machine Generation ID" spec, as QEMU's vmgenid device):
  // ADDR gives the 16-byte id's guest-physical address as {low 32 bits, high 32 bits};
  // Linux's vmgenid driver matches VMGENCTR / VM_GEN_COUNTER and reseeds from the id.
  Aml genid_addr;
  genid_addr.append(Aml::integer(kGenerationIdAddress & 0xffffffff)).append(Aml::integer(kGenerationIdAddress >> 32));
  Aml vgen;
  vgen.name("_HID", Aml::string("VMGENCTR"))
      .name("_CID", Aml::string("VM_GEN_COUNTER"))
      .name("_DDN", Aml::string("VM_Gen_Counter"))
      .name("ADDR", Aml::package(genid_addr, 2));
  // The hardware-reduced way to raise an ACPI event: a Generic Event Device (ACPI 6.4
  // §5.6.9) whose interrupt runs _EVT; a new generation id notifies VGEN (0x80), on which
  // the driver reads the id again.
  Aml ged;
  ged.name("_HID", Aml::string("ACPI0013"))
      .name("_CRS", Aml::buffer(Resources().interrupt_edge_high(kAcpiGedIrq).take()))
      .method("_EVT", 1, Aml::notify("\\_SB.VGEN", 0x80));
  Aml sb;
  sb.device("COM1", com1).device("RTC", rtc).device("VR00", balloon).device("VGEN", vgen).device("GED0", ged);
  // \_S5: Package(4){SLP_TYPa, SLP_TYPb (ignored), reserved, reserved} (ACPI 6.4 §7.4.2).
  Aml s5;
  s5.append(Aml::integer(kAcpiS5SleepType)).append(Aml::integer(0)).append(Aml::integer(0)).append(Aml::integer(0));
  Aml dsdt;
  dsdt.scope("\\_SB", sb).name("\\_S5", Aml::package(s5, 4));
  return dsdt.bytes();
}

std::vector<uint8_t> build_acpi_tables(uint64_t base) {
  // RSDP, then each table at a 16-byte boundary: XSDT, FADT, MADT, DSDT.
  std::vector<uint8_t> blob = rsdp(0);
  align(blob, 16);
  const uint64_t xsdt_at = base + blob.size();
  // The XSDT's size is known before the addresses: header + two pointers.
  const uint64_t fadt_at = xsdt_at + ((kHeaderSize + 16 + 15) & ~size_t{15});
  const uint64_t madt_at = fadt_at + ((276 + 15) & ~size_t{15});
  const std::vector<uint8_t> madt_bytes = madt();
  const uint64_t dsdt_at = madt_at + ((madt_bytes.size() + 15) & ~size_t{15});

  const std::vector<uint8_t> r = rsdp(xsdt_at);
  std::copy(r.begin(), r.end(), blob.begin());
  const uint64_t pointers[] = {fadt_at, madt_at};
  for (const std::vector<uint8_t>& table : {xsdt(pointers), fadt(dsdt_at), madt_bytes}) {
    blob.insert(blob.end(), table.begin(), table.end());
    align(blob, 16);
  }
  Table dsdt("DSDT", 2);
  dsdt.append(build_dsdt_body());
  const std::vector<uint8_t> d = dsdt.finish();
  blob.insert(blob.end(), d.begin(), d.end());
  return blob;
}

}  // namespace densevm::acpi
