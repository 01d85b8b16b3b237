// Where densevm's machine puts things in guest-physical and port space: one table, so the
// devices, the e820 map and the ACPI tables that describe them cannot disagree.
//
//   0x00000000  RAM (boot structures below 0xa0000)
//   0x000a0000  reserved: ACPI tables at 0xe0000 (RSDP first), below 1 MiB
//   0x00100000  RAM, up to --mem or 3 GiB, then from 4 GiB on
//   0xd0000000  virtio-mmio balloon (one 512-byte window, IRQ 5)
//   0xfec00000  IOAPIC (24 pins, GSI 0-23)
//   0xfee00000  local APIC
//   0x00006080  the VM generation id (16 bytes; VMGENID's ADDR), in reserved low RAM
//   GSI 9       the ACPI Generic Event Device: a new generation id (clone, restore)
//   ports       0x3f8 COM1 (IRQ 4), 0x70/0x71 CMOS RTC (IRQ 8), 0x600/0x601 ACPI sleep
//               control/status, 0x602 ACPI reset, 0xf4 exit, 0xf6 marker
//
//   if (gpa - kIoApicBase < kIoApicSize) ...
#pragma once

#include <cstdint>

namespace densevm {

inline constexpr uint64_t kVirtioMmioBase = 0xd0000000;
inline constexpr uint32_t kVirtioMmioIrq = 5;
inline constexpr uint64_t kIoApicBase = 0xfec00000;
inline constexpr uint64_t kIoApicSize = 0x1000;
inline constexpr uint64_t kLocalApicBase = 0xfee00000;
inline constexpr uint64_t kLocalApicSize = 0x1000;

inline constexpr uint64_t kAcpiTablesBase = 0xe0000;
inline constexpr uint64_t kAcpiTablesSize = 0x20000;
inline constexpr uint64_t kLegacyHoleBase = 0xa0000;  // VGA and BIOS area: never RAM to Linux

inline constexpr uint32_t kAcpiGedIrq = 9;
inline constexpr uint64_t kGenerationIdAddress = 0x6080;  // boot.h's kBootGenerationId

inline constexpr uint16_t kCom1Port = 0x3f8;
inline constexpr uint32_t kCom1Irq = 4;
inline constexpr uint16_t kRtcPort = 0x70;
inline constexpr uint32_t kRtcIrq = 8;
// ACPI hardware-reduced registers (ACPI 6.4 §4.8.3.6-7), 8 bits each, in port space.
inline constexpr uint16_t kAcpiSleepControlPort = 0x600;
inline constexpr uint16_t kAcpiSleepStatusPort = 0x601;
inline constexpr uint16_t kAcpiResetPort = 0x602;
inline constexpr uint8_t kAcpiResetValue = 0x42;
// The \_S5 sleep type the DSDT names; a write of SLP_TYPx << 2 | SLP_EN powers off.
inline constexpr uint8_t kAcpiS5SleepType = 5;

}  // namespace densevm
