// The ACPI tables that describe densevm's machine to an unmodified Linux (ACPI 6.4 ch. 5),
// built as one blob for guest memory at kAcpiTablesBase (platform_layout.h), RSDP first:
//
//   RSDP  revision 2, pointing at the XSDT only (Linux gets its address through
//         boot_params.acpi_rsdp_addr, so no firmware scan is needed)
//   XSDT  -> FADT, MADT
//   FADT  revision 6.4, hardware-reduced (no PM timer, SCI, GPEs or legacy PIC), the sleep
//         control/status registers Linux's poweroff writes (\_S5), the reset register its
//         reboot writes, no 8042 and no VGA, the CMOS century at 0x32
//   MADT  the local APIC (ID 0) and the IOAPIC at 0xfec00000 (GSI 0-23); no 8259
//   DSDT  \_SB.COM1 (PNP0501: 0x3f8, IRQ 4), \_SB.RTC (PNP0B00: 0x70, IRQ 8),
//         \_SB.VR00 (LNRO0005: the virtio-mmio balloon, 512 bytes at 0xd0000000, GSI 5
//         level-triggered active-high, as QEMU's microvm names it), \_SB.VGEN (VMGENID:
//         ADDR = the generation id's address), \_SB.GED0 (ACPI0013 on GSI 9, edge: its
//         _EVT notifies VGEN when the id changes), \_S5 = {5, 0, 0, 0}
//
//   std::vector<uint8_t> blob = build_acpi_tables(kAcpiTablesBase);
//   memory.write(Gpa{kAcpiTablesBase}, blob.data(), blob.size());
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace densevm::acpi {

// Byte offsets inside a table (ACPI 6.4 Table 5.4, the common header).
inline constexpr size_t kHeaderSize = 36;
inline constexpr size_t kLengthOffset = 4;
inline constexpr size_t kChecksumOffset = 9;
// FADT fields (Table 5.9) the tests and the VMM look at.
inline constexpr size_t kFadtFlags = 112;
inline constexpr size_t kFadtResetReg = 116;
inline constexpr size_t kFadtXDsdt = 140;
inline constexpr size_t kFadtSleepControl = 244;
inline constexpr uint32_t kFadtHwReducedAcpi = 1u << 20;
inline constexpr uint32_t kFadtResetRegSup = 1u << 10;

[[nodiscard]] std::vector<uint8_t> build_acpi_tables(uint64_t base);
// The DSDT's AML body (after the header), for tests that decode it.
[[nodiscard]] std::vector<uint8_t> build_dsdt_body();
// Sum of the bytes mod 256: 0 for a table with a correct checksum.
[[nodiscard]] uint8_t checksum(std::span<const uint8_t> bytes);

}  // namespace densevm::acpi
